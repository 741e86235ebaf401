//! The one domain facade every transport calls: validate, persist, query, watch.
//! No transport types here (no tonic, prost or axum).

mod history;
mod profiles;
mod usage;
mod watch;

use crate::auth::SubmitLimiter;
use crate::config::S3Settings;
use crate::domain::notification::Notification;
use crate::domain::order::{Destination, Location, OrderPolicy, names_company_profiles};
use crate::domain::{
    Caller, EventKind, Job, JobId, JobState, OrderRequest, ProfileCatalogue, Tariff,
};
use crate::error::{Error, Result};
use crate::events::{EventHub, Journal};
use crate::persistence::{
    Inserted, JobRepository, NotificationRepository, ProfileRepository, UsageRepository,
};
use crate::queue::{RunningJobs, StopReason};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use history::MAX_HISTORY_EVENTS;
pub use usage::MAX_USAGE_LINES;
pub use watch::EventStream;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

/// What the service shares with the rest of the process: the wake-up for a queued job,
/// the registry a cancel stops running jobs through, and the shutdown signal that ends
/// WatchJob streams.
pub struct ServiceRuntime {
    pub work_available: Arc<Notify>,
    pub running: Arc<RunningJobs>,
    pub s3: S3Settings,
    pub shutdown: tokio_util::sync::CancellationToken,
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
}

/// The repositories the service reads and writes.
pub struct Repositories {
    pub jobs: Arc<dyn JobRepository>,
    pub notifications: Arc<dyn NotificationRepository>,
    pub profiles: Arc<dyn ProfileRepository>,
    pub usage: Arc<dyn UsageRepository>,
}

struct Inner {
    repo: Arc<dyn JobRepository>,
    /// Saves and publishes the events the service writes (queued, canceled).
    journal: Journal,
    /// Jobs running in this process: a cancel stops them directly (other processes
    /// learn of it by notification, or by their heartbeat).
    running: Arc<RunningJobs>,
    /// For the notification bodies of a job canceled while queued.
    s3: S3Settings,
    /// Ends WatchJob streams when the process drains.
    shutdown: tokio_util::sync::CancellationToken,
    metrics: Arc<crate::telemetry::metrics::Metrics>,
    notifications: Arc<dyn NotificationRepository>,
    profiles: Arc<dyn ProfileRepository>,
    usage: Arc<dyn UsageRepository>,
    /// Prices output minutes; usage answers are in its currency.
    tariff: Tariff,
    limiter: SubmitLimiter,
    hub: Arc<EventHub>,
    policy: OrderPolicy,
    /// Wakes an idle worker in this process when a job is queued.
    work_available: Arc<Notify>,
    /// How often a watcher with no live event re-reads the database (events written by
    /// another process reach it this way).
    watch_poll: Duration,
}

impl Service {
    pub fn new(
        repos: Repositories,
        tariff: Tariff,
        limiter: SubmitLimiter,
        hub: Arc<EventHub>,
        policy: OrderPolicy,
        runtime: ServiceRuntime,
        watch_poll: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                journal: Journal::new(repos.jobs.clone(), hub.clone()),
                running: runtime.running,
                s3: runtime.s3,
                shutdown: runtime.shutdown,
                metrics: runtime.metrics,
                repo: repos.jobs,
                notifications: repos.notifications,
                profiles: repos.profiles,
                usage: repos.usage,
                tariff,
                limiter,
                hub,
                policy,
                work_available: runtime.work_available,
                watch_poll,
            }),
        }
    }

    /// Validates the order and queues it. Within the idempotency window the same key and
    /// order return the first job, and the same key with another order is ALREADY_EXISTS;
    /// after it the key is free again. Each call counts against the company's submission
    /// rate limit.
    #[tracing::instrument(skip_all, fields(company_id = %caller.company))]
    pub async fn submit_job(
        &self,
        caller: &Caller,
        order: OrderRequest,
        idempotency_key: &str,
    ) -> Result<Job> {
        self.inner.limiter.check(caller)?;
        let key = idempotency_key.trim();
        if key.len() > 256 {
            return Err(Error::invalid_argument(
                "idempotency_key",
                "must be at most 256 characters",
            ));
        }
        // Orders naming only system presets (most of them) need no profile query.
        let catalogue = if names_company_profiles(&order.outputs) {
            self.catalogue(caller).await?
        } else {
            ProfileCatalogue::system_presets()
        };
        let order = order.validate(caller, &catalogue, &self.inner.policy)?;
        let key = (!key.is_empty()).then(|| key.to_owned());
        // Taken before the default destination is added: that one names the job's id.
        let fingerprint = key
            .as_ref()
            .map(|_| order_fingerprint(&order))
            .transpose()?;
        let mut job = Job::new(caller.company.clone(), order, key);
        job.idempotency_fingerprint = fingerprint;
        // The worker's spans, later and maybe on another replica, join this trace.
        job.trace_context = crate::telemetry::propagation::current_traceparent();
        if job.order.destinations.is_empty() {
            job.order.destinations.push(self.default_destination(&job));
        }
        let first = EventKind::StateChanged {
            state: JobState::Queued,
            phase: None,
            attempt: 0,
        };
        match self.inner.journal.insert(&job, first).await? {
            Inserted::Created(_) => {
                self.inner.work_available.notify_one();
                self.inner.metrics.job_submitted();
                tracing::info!(job_id = %job.id, "job queued");
                Ok(job)
            }
            Inserted::Existing(job) => Ok(*job),
        }
    }

    /// `<default root>/<company>/<job id>/` for orders that name no destination.
    fn default_destination(&self, job: &Job) -> Destination {
        let path = self
            .inner
            .policy
            .default_output_root
            .join(job.company_id.as_str())
            .join(job.id.to_string());
        Destination {
            uri: url::Url::from_directory_path(&path)
                .map(String::from)
                .unwrap_or_else(|_| path.display().to_string()),
            location: Location::File { path },
            acl: String::new(),
            storage_class: String::new(),
        }
    }

    /// The caller's job; another company's job is NOT_FOUND, like one that never existed.
    pub async fn get_job(&self, caller: &Caller, job_id: &str) -> Result<Job> {
        let id = JobId::parse(job_id)?;
        self.inner
            .repo
            .get(&caller.company, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("job {id} not found")))
    }

    /// Cancels the caller's job. A queued job is CANCELED at once (with its event and
    /// notifications); a running one is stopped by the worker that runs it, on whichever
    /// replica, which then ends it CANCELED and unbilled. A finished job is
    /// FAILED_PRECONDITION. Returns the job as it is after the request.
    pub async fn cancel_job(&self, caller: &Caller, job_id: &str) -> Result<Job> {
        // A claim can race the cancel of a queued job: then it is running, try again.
        for _ in 0..3 {
            let job = self.get_job(caller, job_id).await?;
            match job.state {
                JobState::Queued => {
                    if let Some(canceled) = self.cancel_queued(job).await? {
                        return Ok(canceled);
                    }
                }
                JobState::Running => {
                    if self.inner.repo.request_cancel(job.id).await? {
                        self.inner.running.stop(job.id, StopReason::Canceled);
                        tracing::info!(job_id = %job.id, "cancel requested");
                        return Ok(job);
                    }
                }
                state => {
                    return Err(Error::failed_precondition(format!(
                        "job {} already ended {}; only queued or running jobs can be canceled",
                        job.id,
                        state.as_str()
                    )));
                }
            }
        }
        Err(Error::unavailable(format!(
            "job {job_id} kept changing state; try again"
        )))
    }

    /// CANCELED in one write while still queued; None when a worker claimed it first.
    async fn cancel_queued(&self, mut job: Job) -> Result<Option<Job>> {
        let error = Error::new(crate::error::ErrorCode::Canceled, "canceled by request");
        job.state = JobState::Canceled;
        job.error = Some(error.clone());
        job.finished_at = Some(chrono::Utc::now());
        job.updated_at = chrono::Utc::now();
        for output in &mut job.outputs {
            output.state = crate::domain::OutputState::Failed;
        }
        let deliveries = crate::notify::deliveries_for(&job, &self.inner.s3);
        let event = EventKind::JobFinished {
            state: JobState::Canceled,
            error: Some(error),
        };
        let saved = self
            .inner
            .journal
            .cancel_queued(&job, event, &deliveries)
            .await?;
        if saved.is_some() {
            let metrics = &self.inner.metrics;
            metrics.job_finished(JobState::Canceled, job.error.as_ref());
        }
        Ok(saved.map(|_| job))
    }

    /// A page of jobs, newest first, and the token of the next page if there is one.
    pub async fn list_jobs(
        &self,
        caller: &Caller,
        page_size: u32,
        page_token: &str,
        state: Option<JobState>,
    ) -> Result<(Vec<Job>, Option<String>)> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(Error::invalid_argument(
                    "page_size",
                    format!("must be at most {MAX_PAGE_SIZE}"),
                ));
            }
            n => n,
        };
        let before = match page_token.trim() {
            "" => None,
            token => Some(JobId::parse(token).map_err(|_| {
                Error::invalid_argument("page_token", "is not a token from a previous page")
            })?),
        };
        let mut jobs = self
            .inner
            .repo
            .list(&caller.company, state, size as u64 + 1, before)
            .await?;
        let next = if jobs.len() > size as usize {
            jobs.truncate(size as usize);
            jobs.last().map(|j| j.id.to_string())
        } else {
            None
        };
        Ok((jobs, next))
    }

    /// The job's notification deliveries, with every attempt.
    pub async fn job_notifications(&self, job: &Job) -> Result<Vec<Notification>> {
        self.inner.notifications.for_job(job.id).await
    }

    /// Makes a new webhook signing secret for the company and returns it. This is the
    /// only time it is shown; the previous secret stops working at once.
    pub async fn rotate_webhook_secret(&self, caller: &Caller) -> Result<String> {
        let company = &caller.company;
        let secret = crate::notify::webhook::new_secret();
        self.inner
            .notifications
            .replace_webhook_secret(company.as_str(), &secret)
            .await?;
        Ok(secret)
    }
}

/// SHA-256 (lower-case hex) of the validated order's canonical JSON: going through a
/// `serde_json::Value` sorts every object's keys (its map is a BTreeMap while the
/// `preserve_order` feature is off), so the same order always gives the same fingerprint.
fn order_fingerprint(order: &crate::domain::ValidOrder) -> Result<String> {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_value(order)
        .and_then(|value| serde_json::to_vec(&value))
        .map_err(|e| Error::internal(format!("encoding the order's fingerprint: {e}")))?;
    Ok(Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
