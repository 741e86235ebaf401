//! Transport adapters: thin translations between the wire and [`crate::service`].

pub mod grpc;
pub mod http;
pub mod rest;
