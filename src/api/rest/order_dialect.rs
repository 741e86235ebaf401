//! The order dialect (seed 000): `POST /{company_id}/transcode` with an `order`, the job
//! at its status URL, the company's profiles. Translation only: every decision is the
//! service's.

use super::RestState;
use super::body::{json_text, parse_json};
use super::errors::{ErrorDetail, RestError, renamed};
use super::order_wire::*;
use crate::domain::job::OutputResult;
use crate::domain::order::{
    DestinationRequest, NotificationRequest, OutputRequest, ProfileRef, ThumbnailRequest,
};
use crate::domain::{Caller, Job, JobState, MediaInfo, OrderRequest, OutputState, Phase, Profile};
use crate::error::Error;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The order, translated; and for each domain notification and destination, the index
/// the client gave it (empty entries are skipped, so the two can differ).
struct Translated {
    order: OrderRequest,
    notification_index: Vec<usize>,
    destination_index: Vec<usize>,
}

fn translate(body: OrderBody) -> Translated {
    let mut notification_index = Vec::new();
    let mut notifications = Vec::new();
    for (i, n) in body.notifications.into_iter().enumerate() {
        let request = match (n.email, n.webhook_url.or(n.url)) {
            (Some(email), _) => NotificationRequest::Email(email),
            (None, Some(url)) => NotificationRequest::Webhook(url),
            // The seed's template sends `"email": ""`: nothing to notify.
            (None, None) => continue,
        };
        notifications.push(request);
        notification_index.push(i);
    }
    let mut destination_index = Vec::new();
    let mut destinations = Vec::new();
    for (i, d) in body.destinations.into_iter().enumerate() {
        let request = match d {
            DestinationBody::Uri(uri) => DestinationRequest {
                uri,
                ..DestinationRequest::default()
            },
            DestinationBody::Object(o) => DestinationRequest {
                uri: o.url.or(o.uri).unwrap_or_default(),
                acl: o.acl.unwrap_or_default(),
                storage_class: o.storage_class.unwrap_or_default(),
            },
        };
        if request.uri.trim().is_empty() {
            continue;
        }
        destinations.push(request);
        destination_index.push(i);
    }
    let outputs = body
        .jobs
        .into_iter()
        .map(|j| OutputRequest {
            label: j.label.unwrap_or_default(),
            filename: j.filename.unwrap_or_default(),
            profile: match j.profile_id.or(j.transcoding_profile) {
                Some(ProfileRefBody::Id(id)) => ProfileRef::Id(id),
                Some(ProfileRefBody::Name(name)) => ProfileRef::Description(name),
                None => ProfileRef::Missing,
            },
            reference: String::new(),
        })
        .collect();
    let thumbnails = body
        .thumbnails
        .into_iter()
        .map(|t| ThumbnailRequest {
            filename: t.filename.unwrap_or_default(),
            label: t.label.unwrap_or_default(),
            width: t.width.unwrap_or_default(),
            height: t.height.unwrap_or_default(),
            time_seconds: t.time.unwrap_or_default(),
            ..ThumbnailRequest::default()
        })
        .collect();
    Translated {
        order: OrderRequest {
            priority: body.priority,
            origin: body.origin.unwrap_or_default(),
            notifications,
            destinations,
            outputs,
            thumbnails,
            storyboards: Vec::new(),
        },
        notification_index,
        destination_index,
    }
}

/// `order.outputs[2].preset` -> `jobs[2].profile_id`, and so on: the dialect's names.
/// The dialect's order as a domain request.
pub(super) fn translate_order(body: OrderBody) -> OrderRequest {
    translate(body).order
}

fn dialect_field(field: &str, t: &Translated) -> String {
    let Some(rest) = field.strip_prefix("order.") else {
        return field.to_owned();
    };
    let indexed = |rest: &str, prefix: &str| -> Option<(usize, String)> {
        let tail = rest.strip_prefix(prefix)?.strip_prefix('[')?;
        let (index, after) = tail.split_once(']')?;
        Some((index.parse().ok()?, after.to_owned()))
    };
    if let Some((i, after)) = indexed(rest, "outputs") {
        let after = match after.as_str() {
            ".preset" => ".profile_id".to_owned(),
            other => other.to_owned(),
        };
        return format!("jobs[{i}]{after}");
    }
    if rest == "outputs" {
        return "jobs".into();
    }
    if let Some((i, after)) = indexed(rest, "thumbnails") {
        let after = after.replace(".time_seconds", ".time");
        return format!("thumbnails[{i}]{after}");
    }
    if let Some((i, _)) = indexed(rest, "destinations") {
        let original = t.destination_index.get(i).copied().unwrap_or(i);
        return format!("destinations[{original}]");
    }
    if let Some((i, after)) = indexed(rest, "notifications") {
        let original = t.notification_index.get(i).copied().unwrap_or(i);
        return format!("notifications[{original}]{after}");
    }
    rest.to_owned()
}

fn acting_for<'a>(caller: &'a Caller, company_id: &str) -> Result<&'a Caller, RestError> {
    Ok(caller.acting_for(company_id)?)
}

/// `http(s)://host/company/transcode/id`, from the request's Host (and a proxy's
/// X-Forwarded-Proto).
fn status_url(headers: &HeaderMap, path: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| matches!(*p, "http" | "https"))
        .unwrap_or("http");
    format!("{scheme}://{host}{path}")
}

fn job_path(job: &Job) -> String {
    format!("/{}/transcode/{}", job.company_id, job.id)
}

/// `POST /{company_id}/transcode[/]`: 201, `Location`, and the job.
#[utoipa::path(
    post,
    path = "/{company_id}/transcode",
    description = "Submits an order. The order JSON may be a form field `order` \
        (application/x-www-form-urlencoded or multipart/form-data), the raw body under a \
        urlencoded content type, or an application/json body. Also at \
        `/{company_id}/transcode/`. An `Idempotency-Key` header returns the first job \
        for a repeated key and the same order within the idempotency window (409 for \
        another order).",
    params(("company_id" = String, Path, description = "The company's slug")),
    request_body(content = OrderBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Queued; `Location` is the status URL", body = JobBody),
        (status = 400, description = "Malformed JSON or an invalid order, naming every bad field", body = super::errors::ErrorBody),
        (status = 401, description = "No valid Bearer token", body = super::errors::ErrorBody),
        (status = 403, description = "Another company's path, or a priority without the entitlement", body = super::errors::ErrorBody),
        (status = 409, description = "The `Idempotency-Key` is held by a job of another order", body = super::errors::ErrorBody),
        (status = 413, description = "Body over the limit", body = super::errors::ErrorBody),
        (status = 415, description = "Another content type", body = super::errors::ErrorBody),
        (status = 429, description = "Over the company's rate limit; see Retry-After", body = super::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn submit(
    State(state): State<RestState>,
    Path(company_id): Path<String>,
    caller: axum::Extension<Caller>,
    request: Request,
) -> Result<Response, RestError> {
    let caller = acting_for(&caller, &company_id)?;
    let headers = request.headers().clone();
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = json_text(request, "order", state.max_body_bytes).await?;
    let body: OrderBody = parse_json(&text, "order")?;
    let translated = translate(body);
    let order = translated.order.clone();
    let job = state
        .service
        .submit_job(caller, order, &idempotency_key)
        .await
        .map_err(|e| renamed(e, |f| dialect_field(f, &translated)))?;
    let path = job_path(&job);
    let mut response = (
        StatusCode::CREATED,
        Json(job_body(&job, status_url(&headers, &path))),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&path) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /{company_id}/transcode/{job_id}`.
#[utoipa::path(
    get,
    path = "/{company_id}/transcode/{job_id}",
    params(
        ("company_id" = String, Path, description = "The company's slug"),
        ("job_id" = String, Path, description = "The job's id"),
    ),
    responses(
        (status = 200, description = "The job", body = JobBody),
        (status = 404, description = "No such job for this company", body = super::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_job(
    State(state): State<RestState>,
    Path((company_id, job_id)): Path<(String, String)>,
    caller: axum::Extension<Caller>,
    headers: HeaderMap,
) -> Result<Json<JobBody>, RestError> {
    let caller = acting_for(&caller, &company_id)?;
    let job = state.service.get_job(caller, &job_id).await?;
    Ok(Json(job_body(&job, status_url(&headers, &job_path(&job)))))
}

/// `DELETE /{company_id}/transcode/{job_id}`: cancels the job.
#[utoipa::path(
    delete,
    path = "/{company_id}/transcode/{job_id}",
    params(
        ("company_id" = String, Path, description = "The company's slug"),
        ("job_id" = String, Path, description = "The job's id"),
    ),
    responses(
        (status = 200, description = "The canceled job", body = JobBody),
        (status = 404, description = "No such job for this company", body = super::errors::ErrorBody),
        (status = 501, description = "Cancelling is not implemented yet", body = super::errors::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_job(
    State(state): State<RestState>,
    Path((company_id, job_id)): Path<(String, String)>,
    caller: axum::Extension<Caller>,
    headers: HeaderMap,
) -> Result<Json<JobBody>, RestError> {
    let caller = acting_for(&caller, &company_id)?;
    let job = state.service.cancel_job(caller, &job_id).await?;
    Ok(Json(job_body(&job, status_url(&headers, &job_path(&job)))))
}

/// `GET /{company_id}/transcoding_profiles[/]`: the presets and the company's own.
#[utoipa::path(
    get,
    path = "/{company_id}/transcoding_profiles/",
    params(("company_id" = String, Path, description = "The company's slug")),
    responses((status = 200, description = "System presets and the company's profiles", body = ProfilesBody)),
    security(("bearer" = []))
)]
pub async fn list_profiles(
    State(state): State<RestState>,
    Path(company_id): Path<String>,
    caller: axum::Extension<Caller>,
) -> Result<Json<ProfilesBody>, RestError> {
    let caller = acting_for(&caller, &company_id)?;
    let profiles = state.service.list_profiles(caller).await?;
    Ok(Json(ProfilesBody {
        profiles: profiles.iter().map(profile_body).collect(),
    }))
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn state_name(state: JobState) -> String {
    lower(state.as_str())
}

fn phase_name(phase: Phase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(lower))
        .unwrap_or_default()
}

fn output_state_name(state: OutputState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(lower))
        .unwrap_or_default()
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn media_body(m: &MediaInfo) -> MediaBody {
    MediaBody {
        duration_seconds: m.duration_seconds,
        size_bytes: m.size_bytes,
        bitrate_bps: m.bitrate_bps,
        // This dialect has always reported GStreamer's caps name ("video/quicktime");
        // jobs stored before `container_caps` existed hold it in `container`.
        container: if m.container_caps.is_empty() {
            m.container.clone()
        } else {
            m.container_caps.clone()
        },
        mime_type: m.mime_type.clone(),
        video_codec: m.video.as_ref().map(|v| v.codec.clone()),
        width: m.video.as_ref().map(|v| v.width),
        height: m.video.as_ref().map(|v| v.height),
        frame_rate: m.video.as_ref().map(|v| v.frame_rate),
        audio_codec: m.audio.as_ref().map(|a| a.codec.clone()),
        audio_channels: m.audio.as_ref().map(|a| a.channels),
        audio_sample_rate: m.audio.as_ref().map(|a| a.sample_rate),
    }
}

fn output_body(o: &OutputResult, job: &Job) -> OutputBody {
    let profile = job
        .order
        .outputs
        .iter()
        .find(|spec| spec.label == o.label)
        .map(|spec| spec.profile.description.clone())
        .unwrap_or_default();
    OutputBody {
        label: o.label.clone(),
        filename: o.filename.clone(),
        profile_id: o.profile_id.0,
        profile,
        status: output_state_name(o.state),
        urls: o.urls.clone(),
        metadata: o.media.as_ref().map(media_body),
    }
}

fn thumbnail_body(t: &crate::domain::ThumbnailResult) -> ThumbnailResultBody {
    ThumbnailResultBody {
        label: t.label.clone(),
        filename: t.filename.clone(),
        status: output_state_name(t.state),
        urls: t.urls.clone(),
        width: t.width,
        height: t.height,
    }
}

pub fn error_detail(e: &Error) -> ErrorDetail {
    ErrorDetail {
        code: e.code.as_str().to_owned(),
        message: e.message.clone(),
        fields: e
            .fields
            .iter()
            .map(|f| super::errors::FieldDetail {
                field: f.field.clone(),
                description: f.description.clone(),
            })
            .collect(),
    }
}

pub fn job_body(job: &Job, status_url: String) -> JobBody {
    JobBody {
        id: job.id.to_string(),
        company_id: job.company_id.to_string(),
        status: state_name(job.state),
        phase: job.phase.map(phase_name),
        progress: job.progress_percent,
        priority: job.order.priority.get(),
        status_url,
        origin: job.order.origin.clone(),
        outputs: job.outputs.iter().map(|o| output_body(o, job)).collect(),
        thumbnails: job.thumbnails.iter().map(thumbnail_body).collect(),
        billing: job.billing.as_ref().map(billing_body),
        error: job.error.as_ref().map(error_detail),
        attempts: job.attempts,
        created_at: rfc3339(job.created_at),
        started_at: job.started_at.map(rfc3339),
        finished_at: job.finished_at.map(rfc3339),
    }
}

fn billing_body(b: &crate::domain::billing::Billing) -> BillingBody {
    BillingBody {
        currency: b.currency.clone(),
        price_per_minute: b.price_per_minute.to_string(),
        billable_minutes: b.total_minutes,
        total: b.total_cost.to_string(),
        outputs: b
            .lines
            .iter()
            .map(|l| BillingLineBody {
                label: l.output_label.clone(),
                profile_id: l.profile_id.0,
                duration_seconds: l.duration_seconds,
                billable_minutes: l.billable_minutes,
                cost: l.cost.to_string(),
            })
            .collect(),
    }
}

fn profile_body(p: &Profile) -> ProfileBody {
    ProfileBody {
        id: p.id.0,
        description: p.description.clone(),
        system: p.is_system(),
        container: p.container.as_str().to_owned(),
        video: p.video.as_ref().map(|v| VideoBody {
            codec: v.codec.as_str().to_owned(),
            width: v.width,
            height: v.height,
            bitrate_kbps: v.bitrate_kbps,
            codec_profile: v.codec_profile_name().to_owned(),
            keyframe_interval_seconds: v.keyframe_interval_seconds,
        }),
        audio: p.audio.as_ref().map(|a| AudioBody {
            codec: a.codec.as_str().to_owned(),
            bitrate_kbps: a.bitrate_kbps,
            channels: a.channels,
            sample_rate: a.sample_rate,
        }),
        restrict_bitrate: p.restrict_bitrate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(json: &str) -> Translated {
        translate(parse_json::<OrderBody>(json, "order").unwrap())
    }

    #[test]
    fn the_seeds_leniency_is_kept() {
        let t = translated(
            r#"{"priority": "6", "origin": "https://example.com/in.mp4",
                "notifications": [{"email": ""}, {"url": "https://hooks.example.com/x"}],
                "destinations": ["", {"url": "s3://bucket/out/"}],
                "jobs": [{"label": "hd", "filename": "hd.mp4", "transcoding_profile": "2"},
                         {"filename": "sd.mp4", "profile_id": "System preset: Generic 360p"}],
                "thumbnails": [{"filename": "t.jpg", "width": "720", "height": 480, "time": "0.3"}],
                "unknown": {"ignored": true}}"#,
        );
        assert_eq!(t.order.priority, Some(6));
        assert_eq!(t.order.notifications.len(), 1);
        assert_eq!(t.notification_index, vec![1]);
        assert_eq!(t.order.destinations[0].uri, "s3://bucket/out/");
        assert_eq!(t.destination_index, vec![1]);
        assert!(matches!(t.order.outputs[0].profile, ProfileRef::Id(2)));
        assert!(
            matches!(&t.order.outputs[1].profile, ProfileRef::Description(d) if d.contains("360p"))
        );
        assert_eq!(t.order.thumbnails[0].width, 720);
        assert_eq!(t.order.thumbnails[0].time_seconds, 0.3);
        assert_eq!(
            dialect_field("order.destinations[0].uri", &t),
            "destinations[1]"
        );
        assert_eq!(
            dialect_field("order.notifications[0].webhook_url", &t),
            "notifications[1].webhook_url"
        );
        assert_eq!(
            dialect_field("order.outputs[1].preset", &t),
            "jobs[1].profile_id"
        );
        assert_eq!(
            dialect_field("order.thumbnails[0].time_seconds", &t),
            "thumbnails[0].time"
        );
        assert_eq!(dialect_field("order.origin", &t), "origin");
        assert_eq!(dialect_field("order.outputs", &t), "jobs");
    }

    #[test]
    fn a_thumbnail_time_is_seconds_whether_number_or_text() {
        for time in ["0.3", "\"0.3\""] {
            let t = translated(&format!(
                r#"{{"thumbnails": [{{"filename": "t.jpg", "time": {time}}}]}}"#
            ));
            let thumb = &t.order.thumbnails[0];
            assert_eq!(
                (thumb.time_seconds, thumb.time_percent),
                (0.3, None),
                "{time}"
            );
        }
    }

    #[test]
    fn wrong_types_name_their_path() {
        let err =
            parse_json::<OrderBody>(r#"{"jobs": [{"profile_id": [1]}]}"#, "order").unwrap_err();
        assert_eq!(err.fields[0].field, "jobs[0].profile_id");
        let err = parse_json::<OrderBody>("{\"origin\": \n  \"x\",, }", "order").unwrap_err();
        assert_eq!(err.fields[0].field, "order");
        assert!(
            err.fields[0].description.contains("line 2"),
            "{}",
            err.fields[0].description
        );
    }
}
