//! The one domain facade every transport calls: validate, persist, query, watch.
//! No transport types here (no tonic, prost or axum).

mod watch;

use crate::domain::notification::Notification;
use crate::domain::order::{Destination, Location, OrderPolicy};
use crate::domain::profile;
use crate::domain::{CompanyId, EventKind, Job, JobId, JobState, OrderRequest, Profile, ProfileId};
use crate::error::{Error, Result};
use crate::events::EventHub;
use crate::persistence::{Inserted, JobRepository, NotificationRepository};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub use watch::EventStream;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    repo: Arc<dyn JobRepository>,
    notifications: Arc<dyn NotificationRepository>,
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
        repo: Arc<dyn JobRepository>,
        notifications: Arc<dyn NotificationRepository>,
        hub: Arc<EventHub>,
        policy: OrderPolicy,
        work_available: Arc<Notify>,
        watch_poll: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                repo,
                notifications,
                hub,
                policy,
                work_available,
                watch_poll,
            }),
        }
    }

    /// Validates the order and queues it; the same idempotency key returns the same job.
    #[tracing::instrument(skip_all, fields(company_id = company_id))]
    pub async fn submit_job(
        &self,
        company_id: &str,
        order: OrderRequest,
        idempotency_key: &str,
    ) -> Result<Job> {
        let company = CompanyId::parse(company_id)?;
        let key = idempotency_key.trim();
        if key.len() > 256 {
            return Err(Error::invalid_argument(
                "idempotency_key",
                "must be at most 256 characters",
            ));
        }
        let order = order.validate(&company, &self.inner.policy)?;
        let mut job = Job::new(company, order, (!key.is_empty()).then(|| key.to_owned()));
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

    pub async fn get_job(&self, company_id: &str, job_id: &str) -> Result<Job> {
        let company = CompanyId::parse(company_id)?;
        let id = JobId::parse(job_id)?;
        self.inner
            .repo
            .get(&company, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("job {id} not found")))
    }

    /// A page of jobs, newest first, and the token of the next page if there is one.
    pub async fn list_jobs(
        &self,
        company_id: &str,
        page_size: u32,
        page_token: &str,
        state: Option<JobState>,
    ) -> Result<(Vec<Job>, Option<String>)> {
        let company = CompanyId::parse(company_id)?;
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
            .list(&company, state, size as u64 + 1, before)
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
    pub async fn rotate_webhook_secret(&self, company_id: &str) -> Result<String> {
        let company = CompanyId::parse(company_id)?;
        let secret = crate::notify::webhook::new_secret();
        self.inner
            .notifications
            .replace_webhook_secret(company.as_str(), &secret)
            .await?;
        Ok(secret)
    }

    pub fn list_profiles(&self, company_id: &str) -> Result<Vec<Profile>> {
        let company = CompanyId::parse(company_id)?;
        Ok(profile::profiles_for(company.as_str()))
    }

    pub fn get_profile(&self, company_id: &str, profile_id: u64) -> Result<Profile> {
        let company = CompanyId::parse(company_id)?;
        profile::find_by_id(company.as_str(), ProfileId(profile_id))
            .ok_or_else(|| Error::not_found(format!("profile {profile_id} not found")))
    }
}
