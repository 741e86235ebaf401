//! [`JobRepository`] on sea-orm, for SQLite and PostgreSQL alike.

use super::convert::{event_from_row, job_columns, job_from_row};
use super::deliveries::insert_deliveries;
use super::entities::{job, job_event};
use super::group_commit::GroupCommit;
use super::job_writes::{self, Guard, LeaseChange, LeaseStatus};
use super::{Claimed, Inserted, JobRepository, WriteGate, usage};
use crate::domain::notification::Notification;
use crate::domain::{CompanyId, EventKind, Job, JobEvent, JobId, JobState, UsageLine};
use crate::error::Error;
use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use std::time::Duration;

/// sqlx 0.9.0 leaves Nagle's algorithm on for PostgreSQL connections (sqlx#4335, fixed
/// upstream by #4336, not released as of 0.9.0). A long statement's last segment then
/// waits for the server's delayed ACK, 40 ms: batches of 15-35 jobs (20-50 KB) took
/// 45-55 ms to store instead of 2-3. Batches of at most 12 KB did not stall against the
/// local server (measured; the threshold depends on the link). Raise this once sqlx
/// sets TCP_NODELAY again.
const PG_MAX_BATCH_BYTES: usize = 12 * 1024;

#[derive(Clone)]
pub struct SeaJobRepository {
    db: DatabaseConnection,
    write_gate: WriteGate,
    new_jobs: GroupCommit,
}

impl SeaJobRepository {
    /// Must be called inside a Tokio runtime: it starts the group-commit writers. An
    /// idempotency key holds its job for `idempotency_window`.
    pub fn new(db: DatabaseConnection, idempotency_window: std::time::Duration) -> Self {
        let write_gate = WriteGate::for_backend(&db);
        // SQLite takes one writer at a time anyway; on PostgreSQL a few transactions in
        // flight overlap their commits' fsyncs.
        let new_jobs = if write_gate.is_open_to_all() {
            GroupCommit::start(
                db.clone(),
                write_gate.clone(),
                4,
                PG_MAX_BATCH_BYTES,
                idempotency_window,
            )
        } else {
            GroupCommit::start(
                db.clone(),
                write_gate.clone(),
                1,
                usize::MAX,
                idempotency_window,
            )
        };
        Self {
            db,
            write_gate,
            new_jobs,
        }
    }

    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        self.write_gate.turn().await
    }
}

/// The row's job, with the running attempt's per-output percents (written by progress
/// ticks apart from the outputs) laid over its outputs.
fn job_with_progress(row: job::Model) -> Result<Job, Error> {
    let progress = row.progress_json.clone();
    let mut job = job_from_row(row)?;
    if let Some(percents) = progress.and_then(|p| serde_json::from_str::<Vec<f64>>(&p).ok()) {
        for (output, percent) in job.outputs.iter_mut().zip(percents) {
            output.percent = percent;
        }
    }
    Ok(job)
}

#[async_trait]
impl JobRepository for SeaJobRepository {
    async fn insert(&self, new_job: &Job, first_event: EventKind) -> Result<Inserted, Error> {
        self.new_jobs.insert(new_job, first_event).await
    }

    async fn get(&self, company: &CompanyId, id: JobId) -> Result<Option<Job>, Error> {
        job::Entity::find_by_id(id.to_string())
            .filter(job::Column::CompanyId.eq(company.as_str()))
            .one(&self.db)
            .await?
            .map(job_with_progress)
            .transpose()
    }

    async fn list(
        &self,
        company: &CompanyId,
        state: Option<JobState>,
        limit: u64,
        before: Option<JobId>,
    ) -> Result<Vec<Job>, Error> {
        let mut query = job::Entity::find().filter(job::Column::CompanyId.eq(company.as_str()));
        if let Some(state) = state {
            query = query.filter(job::Column::State.eq(state.as_str()));
        }
        if let Some(before) = before {
            query = query.filter(job::Column::Id.lt(before.to_string()));
        }
        query
            .order_by_desc(job::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(job_with_progress)
            .collect()
    }

    async fn claim_next(&self, owner: &str, lease: Duration) -> Result<Option<Claimed>, Error> {
        let turn = self.write_turn().await;
        let claimed = job_writes::claim(&self.db, owner, lease).await?;
        drop(turn);
        let Some(row) = claimed else {
            return Ok(None);
        };
        let cancel_requested = row.cancel_requested_at.is_some();
        Ok(Some(Claimed {
            job: job_from_row(row)?,
            cancel_requested,
        }))
    }

    async fn renew_lease(
        &self,
        id: JobId,
        owner: &str,
        lease: Duration,
    ) -> Result<LeaseStatus, Error> {
        let _turn = self.write_turn().await;
        job_writes::renew(&self.db, id, owner, lease).await
    }

    async fn save_with_event(
        &self,
        current: &Job,
        owner: &str,
        event: EventKind,
        lease: LeaseChange,
    ) -> Result<Option<JobEvent>, Error> {
        let cols = job_columns(current)?;
        let _turn = self.write_turn().await;
        let txn = self.db.begin().await?;
        let guard = Guard::Lease(owner);
        let Some(event) = job_writes::save_job(&txn, current, cols, guard, event, lease).await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        txn.commit().await?;
        Ok(Some(event))
    }

    async fn save_progress(
        &self,
        id: JobId,
        owner: &str,
        percent: f64,
        output_percents: &[f64],
        event: EventKind,
    ) -> Result<Option<JobEvent>, Error> {
        let _turn = self.write_turn().await;
        let txn = self.db.begin().await?;
        let saved =
            job_writes::save_progress(&txn, id, owner, percent, output_percents, event).await?;
        match saved {
            Some(event) => {
                txn.commit().await?;
                Ok(Some(event))
            }
            None => {
                txn.rollback().await?;
                Ok(None)
            }
        }
    }

    async fn finish(
        &self,
        current: &Job,
        owner: &str,
        event: EventKind,
        deliveries: &[Notification],
        usage_lines: &[UsageLine],
    ) -> Result<Option<JobEvent>, Error> {
        let cols = job_columns(current)?;
        let _turn = self.write_turn().await;
        let txn = self.db.begin().await?;
        let (guard, release) = (Guard::Lease(owner), LeaseChange::Release);
        let Some(event) = job_writes::save_job(&txn, current, cols, guard, event, release).await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        insert_deliveries(&txn, deliveries).await?;
        usage::insert_lines(&txn, usage_lines).await?;
        txn.commit().await?;
        Ok(Some(event))
    }

    async fn cancel_queued(
        &self,
        current: &Job,
        event: EventKind,
        deliveries: &[Notification],
    ) -> Result<Option<JobEvent>, Error> {
        let cols = job_columns(current)?;
        let _turn = self.write_turn().await;
        let txn = self.db.begin().await?;
        let (guard, release) = (Guard::Queued, LeaseChange::Release);
        let Some(event) = job_writes::save_job(&txn, current, cols, guard, event, release).await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        insert_deliveries(&txn, deliveries).await?;
        txn.commit().await?;
        Ok(Some(event))
    }

    async fn request_cancel(&self, id: JobId) -> Result<bool, Error> {
        let _turn = self.write_turn().await;
        job_writes::request_cancel(&self.db, id).await
    }

    async fn events_after(
        &self,
        id: JobId,
        after: u64,
        limit: u64,
    ) -> Result<Vec<JobEvent>, Error> {
        job_event::Entity::find()
            .filter(job_event::Column::JobId.eq(id.to_string()))
            .filter(job_event::Column::Sequence.gt(after as i64))
            .order_by_asc(job_event::Column::Sequence)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(event_from_row)
            .collect()
    }

    async fn queue_stats(&self) -> Result<super::QueueStats, Error> {
        super::stats::queue_stats(&self.db).await
    }

    fn pool_stats(&self) -> super::PoolStats {
        super::stats::pool_stats(&self.db)
    }
}
