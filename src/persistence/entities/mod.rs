//! sea-orm entities. Rich fields (the order, results, errors) are JSON text so the
//! schema stays stable while the domain grows.

pub mod api_token;
pub mod company;
pub mod company_secret;
pub mod job;
pub mod job_event;
pub mod notification;
pub mod profile;
pub mod usage;
