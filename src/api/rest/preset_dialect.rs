//! The preset dialect (seed 004): `POST /job` with `application_id`, `src`,
//! `postback_url` and `pre_process: [{transcode: {preset_id, video_identifier,
//! s3_destination: {bucket, key}}}]`. Translation only; the result is POSTed to
//! `postback_url` by the notification machinery when the job ends.

use super::RestState;
use super::body::{json_text, parse_json};
use super::errors::{PresetError, renamed};
use super::preset_wire::*;
use crate::domain::order::{DestinationRequest, NotificationRequest, OutputRequest, ProfileRef};
use crate::domain::{Caller, OrderRequest};
use crate::error::{Error, FieldViolation};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::header;

/// Transcode nodes per job, at most.
pub const MAX_NODES: usize = 16;

/// `POST /job`: authenticates (application id, or a Bearer token), translates, submits.
#[utoipa::path(
    post,
    path = "/job",
    description = "Submits a preset-dialect job: the JSON is the body, or a form field `json`. \
        When the job ends, `{\"results\": {\"job_id\", \"video\": {\"meta\", \"s3_url\", \
        \"video_identifier\"}}}` (or `results.error`) is POSTed to `postback_url`.",
    request_body(content = PresetJobBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Queued", body = PresetAcceptedBody),
        (status = 400, description = "Invalid job, naming the fields", body = super::errors::PresetErrorBody),
        (status = 401, description = "Unknown application_id or token", body = super::errors::PresetErrorBody),
    )
)]
pub async fn submit(
    State(state): State<RestState>,
    request: Request,
) -> Result<Json<PresetAcceptedBody>, PresetError> {
    let authorization = request.headers().get(header::AUTHORIZATION).cloned();
    let text = json_text(request, "json", state.max_body_bytes).await?;
    let body: PresetJobBody = parse_json(&text, "json")?;
    let caller = match (&authorization, &body.application_id) {
        (Some(header), _) => state.authenticator.authenticate(Some(header)).await?,
        (None, Some(application_id)) => {
            state
                .authenticator
                .authenticate_application_id(application_id)
                .await?
        }
        (None, None) => {
            return Err(Error::unauthenticated(
                "send the company's application_id, or an 'Authorization: Bearer' token",
            )
            .into());
        }
    };
    let order = translate(body)?;
    let job = submit_order(&state, &caller, order).await?;
    Ok(Json(PresetAcceptedBody {
        results: PresetAcceptedResults { job_id: job },
    }))
}

async fn submit_order(
    state: &RestState,
    caller: &Caller,
    order: OrderRequest,
) -> Result<String, Error> {
    let job = state
        .service
        .submit_job(caller, order, "")
        .await
        .map_err(|e| renamed(e, dialect_field))?;
    Ok(job.id.to_string())
}

/// `videos/2024/clip.mp4` -> (`videos/2024/`, `clip.mp4`).
fn split_key(key: &str) -> (&str, &str) {
    match key.rfind('/') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    }
}

/// The dialect's job as a domain request.
pub(super) fn translate(body: PresetJobBody) -> Result<OrderRequest, Error> {
    let mut bad = Vec::new();
    let mut outputs = Vec::new();
    let mut folder: Option<(String, String)> = None;
    if body.pre_process.is_empty() {
        bad.push(FieldViolation::new(
            "pre_process",
            "at least one transcode node is required",
        ));
    }
    if body.pre_process.len() > MAX_NODES {
        bad.push(FieldViolation::new(
            "pre_process",
            format!("at most {MAX_NODES} transcode nodes"),
        ));
    }
    for (i, node) in body.pre_process.into_iter().enumerate() {
        let at = format!("pre_process[{i}]");
        if let Some(kind) = node.other.keys().next() {
            bad.push(FieldViolation::new(
                format!("{at}.{kind}"),
                "only transcode nodes are supported",
            ));
            continue;
        }
        let Some(t) = node.transcode.or(node.trancode) else {
            bad.push(FieldViolation::new(&at, "needs a transcode node"));
            continue;
        };
        let at = format!("{at}.transcode");
        for kind in t.other.keys() {
            let what = if kind.ends_with("_destination") {
                "only s3_destination is supported"
            } else {
                "is not a field of a transcode node"
            };
            bad.push(FieldViolation::new(format!("{at}.{kind}"), what));
        }
        let Some(s3) = t.s3_destination else {
            bad.push(FieldViolation::new(
                format!("{at}.s3_destination"),
                "is required (only s3_destination is supported)",
            ));
            continue;
        };
        let bucket = s3.bucket.unwrap_or_default();
        let key = s3.key.unwrap_or_default();
        if bucket.trim().is_empty() {
            bad.push(FieldViolation::new(
                format!("{at}.s3_destination.bucket"),
                "is required",
            ));
        }
        let (prefix, filename) = split_key(key.trim());
        if filename.is_empty() {
            bad.push(FieldViolation::new(
                format!("{at}.s3_destination.key"),
                "must name an object (the full key, not a folder)",
            ));
        }
        let here = (bucket.trim().to_owned(), prefix.to_owned());
        match &folder {
            Some(first) if *first != here => bad.push(FieldViolation::new(
                format!("{at}.s3_destination"),
                "every transcode node of a job must write to the same bucket and folder",
            )),
            Some(_) => {}
            None => folder = Some(here),
        }
        let reference = t.video_identifier.unwrap_or_default();
        outputs.push(OutputRequest {
            label: if reference.is_empty() {
                format!("video{i}")
            } else {
                reference.clone()
            },
            filename: filename.to_owned(),
            profile: match t.preset_id {
                Some(preset) => ProfileRef::Description(preset),
                None => ProfileRef::Missing,
            },
            reference,
        });
    }
    if !bad.is_empty() {
        return Err(Error::invalid_fields(bad));
    }
    let destinations = folder
        .map(|(bucket, prefix)| DestinationRequest {
            uri: format!("s3://{bucket}/{prefix}"),
            ..DestinationRequest::default()
        })
        .into_iter()
        .collect();
    Ok(OrderRequest {
        priority: None,
        origin: body.src.unwrap_or_default(),
        notifications: body
            .postback_url
            .map(NotificationRequest::Postback)
            .into_iter()
            .collect(),
        destinations,
        outputs,
        thumbnails: Vec::new(),
        storyboards: Vec::new(),
    })
}

/// Domain field names in the dialect's words.
fn dialect_field(field: &str) -> String {
    let Some(rest) = field.strip_prefix("order.") else {
        return field.to_owned();
    };
    if rest == "origin" {
        return "src".into();
    }
    if rest == "outputs" {
        return "pre_process".into();
    }
    if rest.starts_with("notifications") {
        return "postback_url".into();
    }
    if rest.starts_with("destinations") {
        return "pre_process[0].transcode.s3_destination".into();
    }
    if let Some(tail) = rest.strip_prefix("outputs[")
        && let Some((index, after)) = tail.split_once(']')
    {
        let leaf = match after {
            ".preset" | ".profile_id" => ".preset_id",
            ".filename" => ".s3_destination.key",
            ".label" | ".reference" => ".video_identifier",
            other => other,
        };
        return format!("pre_process[{index}].transcode{leaf}");
    }
    rest.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> PresetJobBody {
        parse_json(json, "json").unwrap()
    }

    #[test]
    fn the_seed_job_translates() {
        let order = translate(body(
            r#"{"application_id": "app_x", "src": "https://example.com/in.mp4",
                "src_type": "pre_process_only", "v": 2, "postback_url": "https://example.com/pb",
                "pre_process": [{"trancode": {"preset_id": "System preset generic 720p",
                  "video_identifier": "abc-123",
                  "s3_destination": {"bucket": "media", "key": "videos/2024/abc.mp4"}}}]}"#,
        ))
        .unwrap();
        assert_eq!(order.origin, "https://example.com/in.mp4");
        assert_eq!(order.destinations[0].uri, "s3://media/videos/2024/");
        assert_eq!(order.outputs[0].filename, "abc.mp4");
        assert_eq!(order.outputs[0].reference, "abc-123");
        assert!(matches!(
            order.notifications[0],
            NotificationRequest::Postback(_)
        ));
    }

    #[test]
    fn other_output_kinds_are_refused_by_name() {
        let err = translate(body(
            r#"{"src": "https://e.com/a.mp4", "pre_process": [
                {"transcode": {"preset_id": "1", "gcs_destination": {"bucket": "b"}}},
                {"thumbnail": {}},
                {"transcode": {"preset_id": "1", "s3_destination": {"bucket": "b", "key": "k/x.mp4"}}},
                {"transcode": {"preset_id": "1", "s3_destination": {"bucket": "c", "key": "y.mp4"}}}]}"#,
        ))
        .unwrap_err();
        let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "pre_process[0].transcode.gcs_destination",
                "pre_process[0].transcode.s3_destination",
                "pre_process[1].thumbnail",
                "pre_process[3].transcode.s3_destination",
            ]
        );
        assert!(err.fields[0].description.contains("only s3_destination"));
        assert_eq!(
            dialect_field("order.outputs[2].preset"),
            "pre_process[2].transcode.preset_id"
        );
        assert_eq!(dialect_field("order.origin"), "src");
    }
}
