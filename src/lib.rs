//! transcoder: a self-hosted video transcoding service.
//!
//! Layers, outermost first: `api` (gRPC and HTTP adapters) -> `service` (the one domain
//! facade every transport calls) -> `domain` (pure types and rules), with `persistence`,
//! `queue`, `media`, `storage` and `events` doing the I/O.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod client;
pub mod config;
pub mod domain;
pub mod egress;
pub mod error;
pub mod events;
pub mod media;
pub mod notify;
pub mod persistence;
pub mod queue;
pub mod readiness;
pub mod service;
pub mod storage;
pub mod telemetry;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod tls;
pub mod web;

/// Generated protobuf and gRPC code for `transcoder.v1`.
pub mod proto {
    tonic::include_proto!("transcoder.v1");

    /// Encoded file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("transcoder_descriptor");
}
