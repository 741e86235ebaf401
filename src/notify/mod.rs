//! Notifications on terminal states: built when a job ends, stored, and delivered by a
//! dispatcher loop apart from the workers, with retries persisted across restarts.

mod content;
pub mod email;
pub mod postback;
pub mod schedule;
pub mod webhook;
pub mod webhook_body;

use crate::domain::notification::{Attempt, Channel, DeliveryState, Notification};
use crate::egress::EgressClient;
use crate::error::Error;
use crate::persistence::NotificationRepository;
use chrono::Utc;
use email::{EmailContent, Mailer};
use schedule::RetrySchedule;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use content::deliveries_for;

/// Deliveries handled per scan.
const BATCH: u64 = 32;

pub struct Dispatcher {
    pub repo: Arc<dyn NotificationRepository>,
    pub http: EgressClient,
    pub mailer: Option<Mailer>,
    pub schedule: RetrySchedule,
    pub timeout: Duration,
    pub poll: Duration,
    /// Poked when deliveries are stored, so the first attempt is immediate.
    pub due: Arc<Notify>,
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
}

impl Dispatcher {
    pub fn spawn(self: Arc<Self>, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let handled = self.run_once().await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "notification scan failed");
                    0
                });
                if handled as u64 == BATCH {
                    continue;
                }
                tokio::select! {
                    _ = self.due.notified() => {}
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        })
    }

    /// Delivers what is due now; returns how many deliveries it handled.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let now = Utc::now();
        // Held long enough for one attempt to finish before anyone else may retry it.
        let lease = chrono::Duration::from_std(self.timeout * 2 + Duration::from_secs(5))
            .unwrap_or(chrono::Duration::seconds(60));
        let due = self.repo.claim_due(now, now + lease, BATCH).await?;
        let count = due.len();
        futures::future::join_all(due.into_iter().map(|n| self.deliver(n))).await;
        Ok(count)
    }

    async fn deliver(&self, mut n: Notification) {
        let (state, status, error) = match &n.channel {
            Channel::Webhook { url } | Channel::Postback { url } => {
                self.send_webhook(&n, url).await
            }
            Channel::Email { address } => self.send_email(&n, address).await,
        };
        n.attempts.push(Attempt {
            time: Utc::now(),
            status,
            error,
        });
        let (state, next) = match state {
            DeliveryState::Pending => match self.schedule.delay_after(n.attempts.len()) {
                Some(delay) => (
                    DeliveryState::Pending,
                    Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default()),
                ),
                None => (DeliveryState::Failed, None),
            },
            done => (done, None),
        };
        tracing::info!(notification = %n.id, state = state.as_str(), attempts = n.attempts.len(), "notification attempt");
        self.metrics
            .notification_attempt(channel_label(&n.channel), outcome_label(state));
        if let Err(e) = self.repo.record_attempt(&n, state, next).await {
            tracing::error!(error = %e, "recording a notification attempt failed");
        }
    }

    async fn send_webhook(
        &self,
        n: &Notification,
        url: &str,
    ) -> (DeliveryState, Option<u16>, Option<String>) {
        let secret = match self.secret_for(&n.company_id).await {
            Ok(s) => s,
            Err(e) => return (DeliveryState::Pending, None, Some(e.to_string())),
        };
        match webhook::send(&self.http, url, &n.id, &secret, &n.payload, self.timeout).await {
            webhook::Answer::Accepted(status) => (DeliveryState::Delivered, Some(status), None),
            webhook::Answer::Gone => (
                DeliveryState::Failed,
                Some(410),
                Some("the receiver answered 410 Gone: no more retries".into()),
            ),
            webhook::Answer::Rejected(status, error) => {
                (DeliveryState::Pending, status, Some(error))
            }
        }
    }

    async fn send_email(
        &self,
        n: &Notification,
        address: &str,
    ) -> (DeliveryState, Option<u16>, Option<String>) {
        let Some(mailer) = &self.mailer else {
            return (
                DeliveryState::Skipped,
                None,
                Some("no SMTP server is configured (smtp.url)".into()),
            );
        };
        let content: EmailContent = match serde_json::from_str(&n.payload) {
            Ok(c) => c,
            Err(e) => {
                return (
                    DeliveryState::Failed,
                    None,
                    Some(format!("bad email payload: {e}")),
                );
            }
        };
        match mailer.send(address, &content).await {
            Ok(()) => (DeliveryState::Delivered, None, None),
            Err(e) => (DeliveryState::Pending, None, Some(e.to_string())),
        }
    }

    async fn secret_for(&self, company_id: &str) -> Result<String, Error> {
        match self.repo.webhook_secret(company_id).await? {
            Some(secret) => Ok(secret),
            None => {
                self.repo
                    .ensure_webhook_secret(company_id, &webhook::new_secret())
                    .await
            }
        }
    }
}

fn channel_label(channel: &Channel) -> &'static str {
    match channel {
        Channel::Webhook { .. } => "webhook",
        Channel::Postback { .. } => "postback",
        Channel::Email { .. } => "email",
    }
}

/// An attempt's outcome: still pending after it means another attempt is scheduled.
fn outcome_label(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Delivered => "delivered",
        DeliveryState::Pending => "retrying",
        DeliveryState::Failed => "failed",
        DeliveryState::Skipped => "skipped",
    }
}
