//! The OpenAPI 3 description of the REST routes, generated from their wire types and
//! served at `/openapi.json`.

use super::{errors, order_dialect, order_wire, preset_dialect, preset_wire, usage};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "transcoder REST dialects",
        description = "The order dialect (`/{company_id}/transcode`) and the preset dialect \
            (`POST /job`). The gRPC API (`transcoder.v1.TranscoderService`) is described by \
            server reflection."
    ),
    paths(
        order_dialect::submit,
        order_dialect::get_job,
        order_dialect::cancel_job,
        order_dialect::list_profiles,
        preset_dialect::submit,
        usage::usage,
    ),
    components(schemas(
        order_wire::OrderBody,
        order_wire::JobBody,
        order_wire::ProfilesBody,
        errors::ErrorBody,
        errors::PresetErrorBody,
        preset_wire::PresetJobBody,
        preset_wire::PresetAcceptedBody,
        usage::UsageBody,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `transcoder token create COMPANY`"))
                    .build(),
            ),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
