//! The dashboard: server-rendered pages (maud) on the HTTP port, under `/` and `/ui/`,
//! with one small hand-written script for the live parts (progress over server-sent
//! events, the new-job dialog's steps, `fetch` submits with field errors). Every asset
//! is compiled into the binary.
//!
//! The dashboard authenticates by its own session cookie ([`session`]), so its paths are
//! open to the Bearer-token layer; every handler takes a [`session::SignedIn`], and calls
//! the same [`Service`] methods as gRPC and REST with the session's [`crate::domain::Caller`].

mod job_detail;
mod jobs;
mod layout;
mod live;
mod new_job;
mod profile_form;
mod profile_values;
mod profiles;
pub mod session;
mod usage;

use crate::auth::Authenticator;
use crate::service::Service;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What the dashboard's handlers share.
#[derive(Clone)]
pub struct WebState {
    pub service: Service,
    pub authenticator: Arc<Authenticator>,
    pub sessions: Arc<session::Sessions>,
    /// Mark the session cookie `Secure` (set when the HTTP port serves TLS, or sits
    /// behind a proxy that does).
    pub secure_cookies: bool,
    /// Ends the live (server-sent events) streams when the process drains.
    pub shutdown: CancellationToken,
}

impl WebState {
    pub fn new(
        service: Service,
        authenticator: Arc<Authenticator>,
        secure_cookies: bool,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            service,
            authenticator,
            sessions: Arc::new(session::Sessions::default()),
            secure_cookies,
            shutdown,
        }
    }
}

/// Whether `path` is the dashboard's (the Bearer layer lets these through: they
/// authenticate by session cookie).
pub fn is_dashboard_path(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route(
            "/ui/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/jobs", get(jobs::list).post(new_job::submit))
        .route("/ui/jobs/live", get(live::events))
        .route("/ui/jobs/{job_id}", get(job_detail::show))
        .route("/ui/jobs/{job_id}/cancel", post(job_detail::cancel))
        .route(
            "/ui/jobs/{job_id}/thumbnails/{index}",
            get(job_detail::thumbnail),
        )
        .route("/ui/profiles", get(profiles::list).post(profiles::create))
        .route("/ui/profiles/new", get(profiles::new_form))
        .route(
            "/ui/profiles/{profile_id}",
            get(profiles::edit_form).post(profiles::update),
        )
        .route("/ui/profiles/{profile_id}/delete", post(profiles::delete))
        .route("/ui/usage", get(usage::show))
        .route("/ui/assets/{name}", get(asset))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn home() -> Redirect {
    Redirect::to("/ui/jobs")
}

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// An asset's URL, versioned so a new binary's assets are not served from a stale cache.
pub fn asset_path(name: &str) -> String {
    format!("/ui/assets/{name}?v={}", env!("CARGO_PKG_VERSION"))
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Scripts and styles from this origin only (no inline ones), no framing, no sniffing.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
