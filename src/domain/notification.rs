//! Notifications about finished jobs, delivered (and retried) apart from the workers.

use super::job::JobId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    Webhook {
        url: String,
    },
    Email {
        address: String,
    },
    /// The preset dialect's `postback_url`: delivered like a webhook (egress guard, retry
    /// schedule, Standard Webhooks headers), with the dialect's own body.
    Postback {
        url: String,
    },
}

impl Channel {
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook { .. } => "webhook",
            Channel::Email { .. } => "email",
            Channel::Postback { .. } => "postback",
        }
    }
    pub fn target(&self) -> &str {
        match self {
            Channel::Webhook { url } | Channel::Postback { url } => url,
            Channel::Email { address } => address,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Gave up: the schedule ran out, or the receiver answered 410 Gone.
    Failed,
    /// Nothing to deliver with (no SMTP server configured).
    Skipped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Delivered => "DELIVERED",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed, Self::Skipped]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One try at delivering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub time: DateTime<Utc>,
    /// The HTTP status a webhook receiver answered, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Deterministic per job and target, so a re-run job does not notify twice.
    pub id: String,
    pub job_id: JobId,
    pub company_id: String,
    pub channel: Channel,
    /// The webhook or postback body, or the email's subject and body as JSON.
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
