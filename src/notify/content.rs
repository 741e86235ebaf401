//! What a finished job's notifications say.

use super::email::EmailContent;
use super::postback::{PostbackBody, PostbackVideo};
use super::webhook_body::{
    WebhookAudio, WebhookBody, WebhookDuration, WebhookError, WebhookFieldViolation, WebhookJob,
    WebhookMedia, WebhookOutput, WebhookVideo,
};
use crate::config::S3Settings;
use crate::domain::notification::{Channel, DeliveryState, Notification};
use crate::domain::order::Notification as Requested;
use crate::domain::{Job, JobState, MediaInfo, OutputResult, OutputState};
use crate::error::Error;
use crate::storage::s3_url;
use chrono::Utc;

fn event_type(state: JobState) -> &'static str {
    match state {
        JobState::Succeeded => "job.succeeded",
        JobState::Failed => "job.failed",
        JobState::Canceled => "job.canceled",
        JobState::Queued | JobState::Running => "job.updated",
    }
}

/// The webhook body: `{type, timestamp, data}` as Standard Webhooks suggests.
pub fn webhook_body(job: &Job) -> String {
    let body = WebhookBody {
        event_type: event_type(job.state).to_owned(),
        timestamp: Utc::now().to_rfc3339(),
        data: WebhookJob {
            job_id: job.id.to_string(),
            company_id: job.company_id.as_str().to_owned(),
            state: job.state.as_str().to_owned(),
            origin: job.order.origin.clone(),
            outputs: job.outputs.iter().map(webhook_output).collect(),
            error: job.error.as_ref().map(webhook_error),
            created_at: job.created_at.to_rfc3339(),
            finished_at: job.finished_at.map(|t| t.to_rfc3339()),
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

fn output_state(state: OutputState) -> &'static str {
    match state {
        OutputState::Pending => "PENDING",
        OutputState::Running => "RUNNING",
        OutputState::Succeeded => "SUCCEEDED",
        OutputState::Failed => "FAILED",
    }
}

fn webhook_output(o: &OutputResult) -> WebhookOutput {
    WebhookOutput {
        label: o.label.clone(),
        filename: o.filename.clone(),
        state: output_state(o.state).to_owned(),
        urls: o.urls.clone(),
        media: o.media.as_ref().map(webhook_media),
    }
}

fn webhook_media(m: &MediaInfo) -> WebhookMedia {
    WebhookMedia {
        duration_seconds: m.duration_seconds,
        size_bytes: m.size_bytes,
        bitrate_bps: m.bitrate_bps,
        container: m.container.clone(),
        mime_type: m.mime_type.clone(),
        video: m.video.as_ref().map(|v| WebhookVideo {
            codec: v.codec.clone(),
            width: v.width,
            height: v.height,
            frame_rate: v.frame_rate,
            bitrate_bps: v.bitrate_bps,
        }),
        audio: m.audio.as_ref().map(|a| WebhookAudio {
            codec: a.codec.clone(),
            channels: a.channels,
            sample_rate: a.sample_rate,
            bitrate_bps: a.bitrate_bps,
        }),
    }
}

fn webhook_error(e: &Error) -> WebhookError {
    WebhookError {
        code: e.code.as_str().to_owned(),
        message: e.message.clone(),
        retryable: e.retryable,
        fields: e
            .fields
            .iter()
            .map(|f| WebhookFieldViolation {
                field: f.field.clone(),
                description: f.description.clone(),
            })
            .collect(),
        retry_after: e.retry_after.map(|wait| WebhookDuration {
            secs: wait.as_secs(),
            nanos: wait.subsec_nanos(),
        }),
    }
}

/// The preset dialect's body (see [`super::postback`]): every output's exiftool metadata,
/// S3 URL and reference when the job succeeded, its error otherwise.
pub fn postback_body(job: &Job, s3: &S3Settings) -> String {
    let job_id = job.id.to_string();
    let body = match job.state {
        JobState::Succeeded => PostbackBody::succeeded(
            job_id,
            job.outputs
                .iter()
                .map(|o| PostbackVideo {
                    meta: o.file_metadata.clone(),
                    s3_url: s3_object_url(o, s3),
                    video_identifier: o.reference.clone(),
                })
                .collect(),
        ),
        state => PostbackBody::failed(
            job_id,
            job.error.as_ref().map_or_else(
                || format!("the job ended {}", state.as_str().to_lowercase()),
                |e| e.message.clone(),
            ),
        ),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The web URL of the output's first S3 object; empty when it went to no S3 destination.
fn s3_object_url(output: &OutputResult, s3: &S3Settings) -> String {
    // Uploads report `s3://bucket/key`, the key as written (not encoded).
    output
        .urls
        .iter()
        .filter_map(|url| url.strip_prefix("s3://")?.split_once('/'))
        .map(|(bucket, key)| s3_url::https_url(s3, bucket, key))
        .next()
        .unwrap_or_default()
}

pub fn email_content(job: &Job) -> EmailContent {
    let state = job.state.as_str().to_lowercase();
    let mut body = format!(
        "Transcoding job {} {state}.\n\nSource: {}\n",
        job.id, job.order.origin
    );
    if let Some(error) = &job.error {
        body += &format!("\nError {}: {}\n", error.code, error.message);
    }
    for output in &job.outputs {
        body += &format!("\n{} ({}):\n", output.label, output.filename);
        for url in &output.urls {
            body += &format!("  {url}\n");
        }
    }
    EmailContent {
        subject: format!("Transcoding job {} {state}", job.id),
        body,
    }
}

/// One delivery per notification in the order, due now. `s3` addresses the postback's
/// `s3_url`s.
pub fn deliveries_for(job: &Job, s3: &S3Settings) -> Vec<Notification> {
    let now = Utc::now();
    job.order
        .notifications
        .iter()
        .enumerate()
        .map(|(i, requested)| {
            let (channel, payload) = match requested {
                Requested::Webhook(url) => {
                    (Channel::Webhook { url: url.clone() }, webhook_body(job))
                }
                Requested::Postback(url) => (
                    Channel::Postback { url: url.clone() },
                    postback_body(job, s3),
                ),
                Requested::Email(address) => (
                    Channel::Email {
                        address: address.clone(),
                    },
                    serde_json::to_string(&email_content(job)).unwrap_or_default(),
                ),
            };
            Notification {
                // Stable per job and position: a job re-run after a crash does not
                // queue the same notification twice, and retries keep one webhook-id.
                id: format!("msg_{}_{i}", job.id.0.simple()),
                job_id: job.id,
                company_id: job.company_id.as_str().to_owned(),
                channel,
                payload,
                state: DeliveryState::Pending,
                attempts: Vec::new(),
                next_attempt_at: Some(now),
                created_at: now,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::media_info::{AudioStreamInfo, VideoStreamInfo};
    use crate::domain::order::{OrderPolicy, OrderRequest, OutputRequest, ProfileRef};
    use crate::domain::profile::ProfileCatalogue;
    use crate::domain::{Caller, Entitlements};
    use crate::error::ErrorCode;
    use serde_json::{Value, json};
    use std::path::PathBuf;

    fn job(notifications: Vec<crate::domain::order::NotificationRequest>) -> Job {
        let output = |filename: &str, reference: &str| OutputRequest {
            label: String::new(),
            filename: filename.into(),
            profile: ProfileRef::Id(2),
            reference: reference.into(),
        };
        let order = OrderRequest {
            origin: "file:///srv/media/in.mp4".into(),
            notifications,
            outputs: vec![output("a.mp4", "vid-a"), output("b.mp4", "vid-b")],
            ..Default::default()
        };
        let policy = OrderPolicy {
            file_roots: vec![PathBuf::from("/srv/media")],
            max_outputs: 4,
            default_output_root: PathBuf::from("/srv/media/outputs"),
        };
        let company = crate::domain::order::CompanyId::parse("acme").unwrap();
        let caller = Caller::operator(company.clone(), Entitlements::default());
        let valid = order
            .validate(&caller, &ProfileCatalogue::system_presets(), &policy)
            .unwrap();
        let mut job = Job::new(company, valid, None);
        job.state = JobState::Succeeded;
        job.finished_at = Some(Utc::now());
        for (o, bucket) in job.outputs.iter_mut().zip(["media", "other"]) {
            o.state = OutputState::Succeeded;
            o.urls = vec![
                format!("file:///srv/media/outputs/{}", o.filename),
                format!("s3://{bucket}/out dir/{}", o.filename),
            ];
            o.file_metadata = [("FileType".to_owned(), json!("MP4"))].into();
            o.media = Some(MediaInfo {
                duration_seconds: 35.0,
                size_bytes: 11_000_000,
                bitrate_bps: 2_510_000,
                container: "mp4".into(),
                mime_type: "video/mp4".into(),
                video: Some(VideoStreamInfo {
                    codec: "h264".into(),
                    width: 1280,
                    height: 720,
                    frame_rate: 30.0,
                    bitrate_bps: 2_400_000,
                    ..Default::default()
                }),
                audio: Some(AudioStreamInfo {
                    codec: "aac".into(),
                    channels: 2,
                    sample_rate: 48_000,
                    bitrate_bps: 128_000,
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        job
    }

    /// The body as it was built before it had wire types of its own (the probe's fields
    /// added since then are not in it).
    fn body_built_from_domain_values(job: &Job) -> Value {
        let outputs: Vec<_> = job
            .outputs
            .iter()
            .map(|o| {
                let mut media = json!(o.media);
                if let Some(m) = media.as_object_mut() {
                    m.remove("container_caps");
                    m.remove("stream_count");
                    for stream in ["video", "audio"] {
                        if let Some(s) = m.get_mut(stream).and_then(Value::as_object_mut) {
                            s.remove("codec_description");
                            s.remove("display_aspect_ratio");
                        }
                    }
                }
                json!({"label": o.label, "filename": o.filename, "state": o.state,
                       "urls": o.urls, "media": media})
            })
            .collect();
        json!({"type": event_type(job.state), "data": {
            "job_id": job.id.to_string(), "company_id": job.company_id.as_str(),
            "state": job.state.as_str(), "origin": job.order.origin, "outputs": outputs,
            "error": job.error, "created_at": job.created_at.to_rfc3339(),
            "finished_at": job.finished_at.map(|t| t.to_rfc3339())}})
    }

    fn without_timestamp(body: &str) -> Value {
        let mut value: Value = serde_json::from_str(body).unwrap();
        assert!(value["timestamp"].is_string(), "{value}");
        value.as_object_mut().unwrap().remove("timestamp");
        value
    }

    #[test]
    fn the_webhook_body_keeps_its_shape() {
        let succeeded = job(Vec::new());
        assert_eq!(
            without_timestamp(&webhook_body(&succeeded)),
            body_built_from_domain_values(&succeeded)
        );
        let mut failed = job(Vec::new());
        failed.state = JobState::Failed;
        failed.outputs[1].state = OutputState::Failed;
        failed.outputs[1].media = None;
        failed.error = Some(Error {
            fields: vec![crate::error::FieldViolation::new("x", "is bad")],
            ..Error::new(ErrorCode::InvalidMedia, "the source is not valid media")
        });
        assert_eq!(
            without_timestamp(&webhook_body(&failed)),
            body_built_from_domain_values(&failed)
        );
    }

    #[test]
    fn a_succeeded_postback_carries_every_output() {
        let job = job(Vec::new());
        let s3 = S3Settings {
            region: Some("eu-west-1".into()),
            ..crate::config::Settings::default().s3
        };
        let body: Value = serde_json::from_str(&postback_body(&job, &s3)).unwrap();
        let results = &body["results"];
        assert_eq!(results["job_id"], job.id.to_string());
        assert_eq!(results["video"], results["videos"][0]);
        assert_eq!(
            results["videos"][1],
            json!({"meta": {"FileType": "MP4"},
                   "s3_url": "https://other.s3.eu-west-1.amazonaws.com/out%20dir/b.mp4",
                   "video_identifier": "vid-b"})
        );
        assert_eq!(results.as_object().unwrap().len(), 3, "{results}");
    }

    #[test]
    fn a_failed_or_canceled_postback_carries_the_error() {
        let s3 = crate::config::Settings::default().s3;
        let mut failed = job(Vec::new());
        failed.state = JobState::Failed;
        failed.error = Some(Error::new(ErrorCode::InvalidMedia, "not media"));
        let body: Value = serde_json::from_str(&postback_body(&failed, &s3)).unwrap();
        assert_eq!(
            body,
            json!({"results": {"job_id": failed.id.to_string(), "error": "not media"}})
        );
        failed.state = JobState::Canceled;
        failed.error = None;
        let body: Value = serde_json::from_str(&postback_body(&failed, &s3)).unwrap();
        assert_eq!(body["results"]["error"], "the job ended canceled");
    }

    #[test]
    fn postback_notifications_become_postback_deliveries() {
        use crate::domain::order::NotificationRequest as N;
        let job = job(vec![
            N::Webhook("https://example.com/hook".into()),
            N::Postback("https://example.com/postback".into()),
        ]);
        let deliveries = deliveries_for(&job, &crate::config::Settings::default().s3);
        assert_eq!(deliveries[0].channel.kind(), "webhook");
        assert_eq!(deliveries[1].channel.kind(), "postback");
        assert_eq!(
            deliveries[1].channel.target(),
            "https://example.com/postback"
        );
        let body: Value = serde_json::from_str(&deliveries[1].payload).unwrap();
        assert_eq!(body["results"]["video"]["video_identifier"], "vid-a");
    }
}
