//! The one domain facade every transport calls: validate, persist, query, watch.
//! No transport types here (no tonic, prost or axum).

mod profiles;
mod usage;
mod watch;

use crate::auth::SubmitLimiter;
use crate::domain::notification::Notification;
use crate::domain::order::{Destination, Location, OrderPolicy, names_company_profiles};
use crate::domain::{
    Caller, EventKind, Job, JobId, JobState, OrderRequest, ProfileCatalogue, Tariff,
};
use crate::error::{Error, Result};
use crate::events::EventHub;
use crate::persistence::{
    Inserted, JobRepository, NotificationRepository, ProfileRepository, UsageRepository,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use usage::MAX_USAGE_LINES;
pub use watch::EventStream;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
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
        work_available: Arc<Notify>,
        watch_poll: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                repo: repos.jobs,
                notifications: repos.notifications,
                profiles: repos.profiles,
                usage: repos.usage,
                tariff,
                limiter,
                hub,
                policy,
                work_available,
                watch_poll,
            }),
        }
    }

    /// Validates the order and queues it; the same idempotency key returns the same job.
    /// Each call counts against the company's submission rate limit.
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
        let mut job = Job::new(
            caller.company.clone(),
            order,
            (!key.is_empty()).then(|| key.to_owned()),
        );
        if job.order.destinations.is_empty() {
            job.order.destinations.push(self.default_destination(&job));
        }
        let first = EventKind::StateChanged {
            state: JobState::Queued,
            phase: None,
            attempt: 0,
        };
        match self.inner.repo.insert(&job, first).await? {
            Inserted::Created(event) => {
                self.inner.hub.publish(&event);
                self.inner.work_available.notify_one();
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

    /// Cancelling is not built yet; the job is still looked up first, so another
    /// company's job answers NOT_FOUND exactly like a missing one.
    pub async fn cancel_job(&self, caller: &Caller, job_id: &str) -> Result<Job> {
        let job = self.get_job(caller, job_id).await?;
        Err(Error::unimplemented(format!(
            "cancelling jobs is not implemented yet (job {})",
            job.id
        )))
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
