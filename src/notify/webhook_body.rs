//! The webhook body's wire types: `{type, timestamp, data}` as Standard Webhooks
//! suggests. They are apart from the domain's, so renaming a domain field never changes
//! what a receiver gets; the shape is the one receivers have had from the start.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookBody {
    /// `job.succeeded`, `job.failed` or `job.canceled`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339.
    pub timestamp: String,
    pub data: WebhookJob,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookJob {
    pub job_id: String,
    pub company_id: String,
    /// `SUCCEEDED`, `FAILED`, `CANCELED`.
    pub state: String,
    pub origin: String,
    pub outputs: Vec<WebhookOutput>,
    pub error: Option<WebhookError>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookOutput {
    pub label: String,
    pub filename: String,
    /// `PENDING`, `RUNNING`, `SUCCEEDED`, `FAILED`.
    pub state: String,
    pub urls: Vec<String>,
    pub media: Option<WebhookMedia>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookMedia {
    pub duration_seconds: f64,
    pub size_bytes: u64,
    pub bitrate_bps: u64,
    pub container: String,
    pub mime_type: String,
    pub video: Option<WebhookVideo>,
    pub audio: Option<WebhookAudio>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookVideo {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    pub bitrate_bps: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookAudio {
    pub codec: String,
    pub channels: u32,
    pub sample_rate: u32,
    pub bitrate_bps: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookError {
    /// A stable error code, e.g. `INVALID_MEDIA`.
    pub code: String,
    pub message: String,
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<WebhookFieldViolation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<WebhookDuration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookFieldViolation {
    pub field: String,
    pub description: String,
}

/// A wait, as `{secs, nanos}` (how the body has always spelled it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDuration {
    pub secs: u64,
    pub nanos: u32,
}
