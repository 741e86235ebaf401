//! Dashboard sessions: sign in with an API token, get an opaque session cookie; sign out.
//!
//! The cookie holds a random session id, never the token: the token stays in this
//! process's memory, so a leaked cookie is worth a dashboard session only (not gRPC or
//! REST access), and signing out ends it for good. Every request re-checks the token
//! through the [`Authenticator`], so revoking the token or disabling the company ends its
//! sessions within the authenticator's cache time. State-changing requests need the
//! session's CSRF token (a hidden form field or the `X-CSRF-Token` header) and, when the
//! browser sends one, an `Origin` of this host.

use super::{WebState, layout};
use crate::auth::secrets::hash_secret;
use crate::domain::Caller;
use crate::error::{Error, ErrorCode};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, extract::Query};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use maud::html;
use rand::RngCore;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "tc_session";
/// A session unused this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; past it the least recently used go first.
const MAX_SESSIONS: usize = 10_000;
/// The header `fetch` requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

struct Entry {
    token: String,
    csrf: String,
    last_seen: Instant,
}

/// Signed-in sessions of this process, by the SHA-256 of their id.
#[derive(Default)]
pub struct Sessions {
    entries: Mutex<HashMap<String, Entry>>,
}

fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    /// A new session for `token`: its id (for the cookie) and CSRF token.
    fn create(&self, token: String) -> (String, String) {
        let (id, csrf) = (random_id(), random_id());
        let mut entries = self.entries.lock().expect("sessions lock");
        entries.retain(|_, e| e.last_seen.elapsed() < IDLE_TIMEOUT);
        if entries.len() >= MAX_SESSIONS
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        let entry = Entry {
            token,
            csrf: csrf.clone(),
            last_seen: Instant::now(),
        };
        entries.insert(hash_secret(&id), entry);
        (id, csrf)
    }

    /// The session's token and CSRF token, if it exists and is not idle too long.
    fn touch(&self, id: &str) -> Option<(String, String)> {
        let key = hash_secret(id);
        let mut entries = self.entries.lock().expect("sessions lock");
        let entry = entries.get_mut(&key)?;
        if entry.last_seen.elapsed() >= IDLE_TIMEOUT {
            entries.remove(&key);
            return None;
        }
        entry.last_seen = Instant::now();
        Some((entry.token.clone(), entry.csrf.clone()))
    }

    fn remove(&self, id: &str) {
        self.entries
            .lock()
            .expect("sessions lock")
            .remove(&hash_secret(id));
    }
}

/// The session id the request's cookie carries.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// False when the browser says the request comes from another origin. Browsers send
/// `Origin` on every POST; its host must be the one the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = url::Url::parse(origin).ok().map(|u| match u.port() {
        Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
        None => u.host_str().unwrap_or_default().to_owned(),
    });
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

fn cross_origin() -> Response {
    layout::error_response(Error::new(
        ErrorCode::PermissionDenied,
        "cross-origin request refused",
    ))
}

/// To the sign-in page: 303 for a page, 401 for the dashboard's own `fetch` calls.
fn to_sign_in(parts: &Parts) -> Response {
    if parts.headers.contains_key(CSRF_HEADER) || parts.uri.path().ends_with("/live") {
        return (StatusCode::UNAUTHORIZED, "sign in again").into_response();
    }
    Redirect::to("/ui/sign-in").into_response()
}

/// A signed-in request: the caller its session's token stands for.
pub struct SignedIn {
    pub caller: Caller,
    /// The session's CSRF token, for the forms a page renders.
    pub csrf: String,
    session: String,
}

impl SignedIn {
    /// Checks a state-changing request's CSRF token (constant time).
    pub fn check_csrf(&self, presented: &str) -> Result<(), Error> {
        let (a, b) = (presented.as_bytes(), self.csrf.as_bytes());
        let same =
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::PermissionDenied,
                "the form is stale (CSRF token mismatch): reload the page and try again",
            ))
        }
    }

    /// Checks the `X-CSRF-Token` header of a `fetch` request.
    pub fn check_csrf_header(&self, headers: &HeaderMap) -> Result<(), Error> {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        self.check_csrf(presented)
    }
}

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        if !matches!(parts.method, Method::GET | Method::HEAD) && !same_origin(&parts.headers) {
            return Err(cross_origin());
        }
        let Some(session) = session_id(&parts.headers) else {
            return Err(to_sign_in(parts));
        };
        let Some((token, csrf)) = state.sessions.touch(&session) else {
            return Err(to_sign_in(parts));
        };
        let bearer =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| to_sign_in(parts))?;
        match state.authenticator.authenticate(Some(&bearer)).await {
            Ok(caller) => Ok(Self {
                caller,
                csrf,
                session,
            }),
            Err(e) if e.code == ErrorCode::Unauthenticated => {
                state.sessions.remove(&session);
                Err(to_sign_in(parts))
            }
            Err(e) => Err(layout::error_response(e)),
        }
    }
}

fn session_cookie(value: String, max_age: cookie::time::Duration, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a cookie is a valid header value")
}

#[derive(Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    signed_out: Option<String>,
}

/// `GET /ui/sign-in`.
pub async fn sign_in_page(Query(query): Query<SignInQuery>) -> Response {
    let note = query.signed_out.map(|_| "You are signed out.");
    sign_in_form(None, note).into_response()
}

fn sign_in_form(error: Option<&str>, note: Option<&str>) -> axum::response::Html<String> {
    let body = html! {
        section.card.narrow {
            h1 { "Sign in" }
            @if let Some(note) = note { p.note role="status" { (note) } }
            form method="post" action="/ui/sign-in" {
                div.field data-field="token" {
                    label for="token" { "API token" }
                    input #token name="token" type="password" required autocomplete="off"
                        aria-describedby="token-help token-error" aria-invalid=[error.map(|_| "true")];
                    p #token-help .help { "A token of your company (" code { "transcoder token create" } "), starting with " code { "tc_" } "." }
                    p #token-error .field-error role="alert" { @if let Some(e) = error { (e) } }
                }
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    layout::bare_page("Sign in", body)
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// `POST /ui/sign-in`: checks the token, starts a session, sets its cookie.
pub async fn sign_in(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    // Login CSRF: another site must not sign the browser in to its own account.
    if !same_origin(&headers) {
        return cross_origin();
    }
    let token = form.token.trim().to_owned();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"));
    let result = match bearer {
        Ok(bearer) => state.authenticator.authenticate(Some(&bearer)).await,
        Err(_) => Err(Error::unauthenticated("the API token is malformed")),
    };
    match result {
        Ok(_) => {
            let (id, _csrf) = state.sessions.create(token);
            let max_age = cookie::time::Duration::seconds(IDLE_TIMEOUT.as_secs() as i64);
            let mut response = Redirect::to("/ui/jobs").into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(id, max_age, state.secure_cookies),
            );
            response
        }
        Err(e) if e.code == ErrorCode::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            sign_in_form(Some(&e.message), None),
        )
            .into_response(),
        Err(e) => layout::error_response(e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// `POST /ui/sign-out`: ends the session and clears its cookie.
pub async fn sign_out(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(e) = signed_in.check_csrf(&form.csrf) {
        return layout::error_response(e);
    }
    state.sessions.remove(&signed_in.session);
    let mut response = Redirect::to("/ui/sign-in?signed_out=1").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(
            String::new(),
            cookie::time::Duration::ZERO,
            state.secure_cookies,
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_id_and_gone_after_removal() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.create("tc_token".into());
        assert_ne!(id, csrf);
        assert_eq!(sessions.touch(&id), Some(("tc_token".into(), csrf)));
        assert_eq!(sessions.touch("another"), None);
        sessions.remove(&id);
        assert_eq!(sessions.touch(&id), None);
    }

    #[test]
    fn origins_must_match_the_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            same_origin(&headers),
            "no Origin: not a browser's cross-site POST"
        );
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let value = session_cookie("abc".into(), cookie::time::Duration::hours(1), true);
        let text = value.to_str().unwrap();
        for part in [
            "tc_session=abc",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
    }
}
