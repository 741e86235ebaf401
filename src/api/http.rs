//! The HTTP side: health now; the REST dialects and metrics come with their issues.

use axum::Router;
use axum::routing::get;

pub fn router() -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" }))
}
