//! The one place a job event is saved and then published: every writer of events (the
//! service when a job is queued or canceled, a worker through its lease) goes through a
//! [`Journal`], so no caller can publish what was not stored, or store without
//! publishing.

use super::EventHub;
use crate::domain::notification::Notification;
use crate::domain::{EventKind, Job, JobEvent, JobId, UsageLine};
use crate::error::Error;
use crate::persistence::{Inserted, JobRepository, LeaseChange};
use std::sync::Arc;

#[derive(Clone)]
pub struct Journal {
    repo: Arc<dyn JobRepository>,
    hub: Arc<EventHub>,
}

impl Journal {
    pub fn new(repo: Arc<dyn JobRepository>, hub: Arc<EventHub>) -> Self {
        Self { repo, hub }
    }

    pub fn repo(&self) -> &Arc<dyn JobRepository> {
        &self.repo
    }

    fn published(&self, saved: Option<JobEvent>) -> Option<JobEvent> {
        if let Some(event) = &saved {
            self.hub.publish(event);
        }
        saved
    }

    /// Stores a new job with its first event.
    pub async fn insert(&self, job: &Job, first: EventKind) -> Result<Inserted, Error> {
        let inserted = self.repo.insert(job, first).await?;
        if let Inserted::Created(event) = &inserted {
            self.hub.publish(event);
        }
        Ok(inserted)
    }

    /// The job's fields and `event`, under `owner`'s lease (None: the lease is gone).
    pub async fn save(
        &self,
        job: &Job,
        owner: &str,
        event: EventKind,
        lease: LeaseChange,
    ) -> Result<Option<JobEvent>, Error> {
        let saved = self.repo.save_with_event(job, owner, event, lease).await?;
        Ok(self.published(saved))
    }

    /// A progress tick, under `owner`'s lease.
    pub async fn progress(
        &self,
        id: JobId,
        owner: &str,
        percent: f64,
        output_percents: &[f64],
        event: EventKind,
    ) -> Result<Option<JobEvent>, Error> {
        let saved = self
            .repo
            .save_progress(id, owner, percent, output_percents, event)
            .await?;
        Ok(self.published(saved))
    }

    /// The job's end, with its deliveries and usage, under `owner`'s lease.
    pub async fn finish(
        &self,
        job: &Job,
        owner: &str,
        event: EventKind,
        deliveries: &[Notification],
        usage: &[UsageLine],
    ) -> Result<Option<JobEvent>, Error> {
        let saved = self
            .repo
            .finish(job, owner, event, deliveries, usage)
            .await?;
        Ok(self.published(saved))
    }

    /// Cancels a job nobody has claimed (None: it is no longer queued).
    pub async fn cancel_queued(
        &self,
        job: &Job,
        event: EventKind,
        deliveries: &[Notification],
    ) -> Result<Option<JobEvent>, Error> {
        let saved = self.repo.cancel_queued(job, event, deliveries).await?;
        Ok(self.published(saved))
    }
}
