//! The REST compatibility shim: the order dialect (`/{company_id}/transcode`) and the
//! preset dialect (`POST /job`), thin translations over the same [`Service`] calls as
//! gRPC; their wire types, error bodies and OpenAPI description.

mod body;
pub mod errors;
mod lenient;
mod openapi;
mod order_dialect;
pub mod order_wire;
mod preset_dialect;
pub mod preset_wire;
mod usage;

use crate::auth::Authenticator;
use crate::service::Service;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// The order dialect's JSON order (the `order` form field, or the JSON body) as the domain
/// request its handler validates. Public for tools and the fuzz targets.
pub fn order_dialect_request(
    json: &str,
) -> Result<crate::domain::OrderRequest, crate::error::Error> {
    let body: order_wire::OrderBody = body::parse_json(json, "order")?;
    Ok(order_dialect::translate_order(body))
}

/// The preset dialect's `POST /job` JSON as the domain request its handler validates.
pub fn preset_dialect_request(
    json: &str,
) -> Result<crate::domain::OrderRequest, crate::error::Error> {
    let body: preset_wire::PresetJobBody = body::parse_json(json, "json")?;
    preset_dialect::translate(body)
}

/// What the REST handlers share.
#[derive(Clone)]
pub struct RestState {
    pub service: Service,
    /// The preset dialect authenticates in its handler (by application id or token).
    pub authenticator: Arc<Authenticator>,
    /// Request bodies above this are refused with 413.
    pub max_body_bytes: usize,
}

pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/{company_id}/transcode", post(order_dialect::submit))
        .route("/{company_id}/transcode/", post(order_dialect::submit))
        .route(
            "/{company_id}/transcode/{job_id}",
            get(order_dialect::get_job).delete(order_dialect::cancel_job),
        )
        .route(
            "/{company_id}/transcoding_profiles",
            get(order_dialect::list_profiles),
        )
        .route(
            "/{company_id}/transcoding_profiles/",
            get(order_dialect::list_profiles),
        )
        .route("/{company_id}/usage", get(usage::usage))
        .route("/openapi.json", get(openapi::document))
        .route("/job", post(preset_dialect::submit))
        .route("/job/", post(preset_dialect::submit))
        .with_state(state)
}
