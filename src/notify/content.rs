//! What a finished job's notifications say.

use super::email::EmailContent;
use crate::domain::notification::{Channel, DeliveryState, Notification};
use crate::domain::order::Notification as Requested;
use crate::domain::{Job, JobState};
use chrono::Utc;
use serde_json::json;

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
    let outputs: Vec<_> = job
        .outputs
        .iter()
        .map(|o| {
            json!({
                "label": o.label,
                "filename": o.filename,
                "state": o.state,
                "urls": o.urls,
                "media": o.media,
            })
        })
        .collect();
    json!({
        "type": event_type(job.state),
        "timestamp": Utc::now().to_rfc3339(),
        "data": {
            "job_id": job.id.to_string(),
            "company_id": job.company_id.as_str(),
            "state": job.state.as_str(),
            "origin": job.order.origin,
            "outputs": outputs,
            "error": job.error,
            "created_at": job.created_at.to_rfc3339(),
            "finished_at": job.finished_at.map(|t| t.to_rfc3339()),
        }
    })
    .to_string()
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

/// One delivery per notification in the order, due now.
pub fn deliveries_for(job: &Job) -> Vec<Notification> {
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
