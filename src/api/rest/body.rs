//! Reading a dialect's JSON out of a request body, however its clients send it: JSON, a
//! urlencoded or multipart form field, or JSON sent raw under a urlencoded content type
//! (what `curl -H 'Content-type: application/x-www-form-urlencoded' -d "$JSON"` sends).
//! Bodies over the limit are refused from their Content-Length before any is read, and
//! otherwise as soon as the limit is passed.

use crate::error::{Error, ErrorCode};
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

fn too_large(limit: usize) -> Error {
    Error::new(
        ErrorCode::LimitExceeded,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

fn not_utf8(what: &str) -> Error {
    Error::invalid_argument(what, "is not UTF-8 text")
}

/// The JSON text of the request: the body itself for `application/json` (or a urlencoded
/// body that starts with `{`), else the form field `field`.
pub async fn json_text(request: Request, field: &str, limit: usize) -> Result<String, Error> {
    let headers = request.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, limit).await.map_err(|_| too_large(limit))?;
    match essence.as_str() {
        "application/json" => String::from_utf8(bytes.to_vec()).map_err(|_| not_utf8("body")),
        "application/x-www-form-urlencoded" | "" => {
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| not_utf8("body"))?;
            if text.trim_start().starts_with('{') {
                return Ok(text);
            }
            if essence.is_empty() {
                return Err(unsupported(&content_type, field));
            }
            url::form_urlencoded::parse(text.as_bytes())
                .find(|(name, _)| name == field)
                .map(|(_, value)| value.into_owned())
                .ok_or_else(|| missing_field(field))
        }
        "multipart/form-data" => {
            let request = Request::from_parts(parts, Body::from(bytes));
            let mut form = Multipart::from_request(request, &())
                .await
                .map_err(|e| Error::invalid_argument("body", e.body_text()))?;
            while let Some(part) = form
                .next_field()
                .await
                .map_err(|e| Error::invalid_argument("body", e.body_text()))?
            {
                if part.name() == Some(field) {
                    return part
                        .text()
                        .await
                        .map_err(|e| Error::invalid_argument(field, e.body_text()));
                }
            }
            Err(missing_field(field))
        }
        _ => Err(unsupported(&content_type, field)),
    }
}

fn missing_field(field: &str) -> Error {
    Error::invalid_argument(
        field,
        format!("is required: send the JSON in a form field named '{field}', or as the body"),
    )
}

fn unsupported(content_type: &str, field: &str) -> Error {
    let shown = if content_type.is_empty() {
        "no content type".to_owned()
    } else {
        format!("content type '{content_type}'")
    };
    Error::new(
        ErrorCode::UnsupportedMediaType,
        format!(
            "{shown} is not accepted: send application/json, or a form field '{field}' as \
             application/x-www-form-urlencoded or multipart/form-data"
        ),
    )
}

/// Parses `text` as `T`, naming the first field of the wrong type by its path in the
/// dialect (`jobs[0].profile_id`), or the line and column where the JSON breaks.
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() && path != "." {
            Error::invalid_argument(&path, strip_position(&inner.to_string()))
        } else {
            Error::invalid_argument(
                what,
                format!(
                    "is not valid JSON: {} (line {}, column {})",
                    strip_position(&inner.to_string()),
                    inner.line(),
                    inner.column()
                ),
            )
        }
    })
}

/// serde_json appends " at line L column C"; the REST error says it its own way.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
