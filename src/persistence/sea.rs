//! [`JobRepository`] on sea-orm, for SQLite and PostgreSQL alike.

use super::convert::{
    JobColumns, event_from_row, event_payload, job_columns, job_from_row, phase_str,
};
use super::deliveries::insert_deliveries;
use super::entities::{job, job_event};
use super::group_commit::GroupCommit;
use super::{Inserted, JobRepository, WriteGate, usage};
use crate::domain::notification::Notification;
use crate::domain::{CompanyId, EventKind, Job, JobEvent, JobId, JobState, UsageLine};
use crate::error::Error;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

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
    /// Must be called inside a Tokio runtime: it starts the group-commit writers.
    pub fn new(db: DatabaseConnection) -> Self {
        let write_gate = WriteGate::for_backend(&db);
        // SQLite takes one writer at a time anyway; on PostgreSQL a few transactions in
        // flight overlap their commits' fsyncs.
        let new_jobs = if write_gate.is_open_to_all() {
            GroupCommit::start(db.clone(), write_gate.clone(), 4, PG_MAX_BATCH_BYTES)
        } else {
            GroupCommit::start(db.clone(), write_gate.clone(), 1, usize::MAX)
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

/// Queued, or running on a lease that has run out (its worker is gone).
fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(job::Column::State.eq(JobState::Queued.as_str()))
        .add(
            Condition::all()
                .add(job::Column::State.eq(JobState::Running.as_str()))
                .add(job::Column::LeaseExpiresAt.lt(now)),
        )
}

async fn insert_event(
    txn: &DatabaseTransaction,
    job_id: JobId,
    sequence: i64,
    kind: EventKind,
) -> Result<JobEvent, Error> {
    let row = job_event::ActiveModel {
        job_id: Set(job_id.to_string()),
        sequence: Set(sequence),
        time: Set(Utc::now()),
        payload_json: Set(event_payload(&kind)?),
    };
    let model = job_event::Entity::insert(row)
        .exec_with_returning(txn)
        .await?;
    event_from_row(model)
}

/// Writes the job's mutable fields and appends `event` with the next sequence, on `txn`,
/// only while `owner` holds the lease. None when it does not: nothing was changed, and
/// the caller rolls back.
async fn update_with_event(
    txn: &DatabaseTransaction,
    current: &Job,
    cols: JobColumns,
    owner: &str,
    event: EventKind,
    release: bool,
) -> Result<Option<JobEvent>, Error> {
    let mut update = job::Entity::update_many()
        .col_expr(
            job::Column::LastSequence,
            Expr::col(job::Column::LastSequence).add(1),
        )
        .col_expr(job::Column::State, Expr::value(current.state.as_str()))
        .col_expr(job::Column::Phase, Expr::value(phase_str(current.phase)))
        .col_expr(
            job::Column::ProgressPercent,
            Expr::value(current.progress_percent),
        )
        .col_expr(job::Column::OutputsJson, Expr::value(cols.outputs_json))
        .col_expr(job::Column::SourceJson, Expr::value(cols.source_json))
        .col_expr(job::Column::ErrorJson, Expr::value(cols.error_json))
        .col_expr(job::Column::BillingJson, Expr::value(cols.billing_json))
        .col_expr(
            job::Column::ThumbnailsJson,
            Expr::value(cols.thumbnails_json),
        )
        .col_expr(
            job::Column::StoryboardsJson,
            Expr::value(cols.storyboards_json),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(job::Column::StartedAt, Expr::value(current.started_at))
        .col_expr(job::Column::FinishedAt, Expr::value(current.finished_at));
    if release {
        update = update
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                job::Column::LeaseExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
    }
    let res = update
        .filter(job::Column::Id.eq(current.id.to_string()))
        .filter(job::Column::LeaseOwner.eq(owner))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    let sequence: i64 = job::Entity::find_by_id(current.id.to_string())
        .select_only()
        .column(job::Column::LastSequence)
        .into_tuple()
        .one(txn)
        .await?
        .ok_or_else(|| Error::internal("job vanished mid-update"))?;
    insert_event(txn, current.id, sequence, event)
        .await
        .map(Some)
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
            .map(job_from_row)
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
            .map(job_from_row)
            .collect()
    }

    async fn claim_next(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, Error> {
        // Optimistic: pick a candidate, then take it only if it is still claimable.
        // Losing the race to another worker just means trying the next candidate.
        for _ in 0..8 {
            let now = Utc::now();
            let Some(candidate) = job::Entity::find()
                .filter(claimable(now))
                .order_by_desc(job::Column::Priority)
                .order_by_asc(job::Column::CreatedAt)
                .order_by_asc(job::Column::Id)
                .one(&self.db)
                .await?
            else {
                return Ok(None);
            };
            let turn = self.write_turn().await;
            let taken = job::Entity::update_many()
                .col_expr(job::Column::State, Expr::value(JobState::Running.as_str()))
                .col_expr(job::Column::LeaseOwner, Expr::value(owner))
                .col_expr(job::Column::LeaseExpiresAt, Expr::value(lease_until))
                .col_expr(
                    job::Column::Attempts,
                    Expr::col(job::Column::Attempts).add(1),
                )
                .col_expr(job::Column::UpdatedAt, Expr::value(now))
                .filter(job::Column::Id.eq(candidate.id.clone()))
                .filter(claimable(now))
                .exec(&self.db)
                .await?;
            drop(turn);
            if taken.rows_affected == 1 {
                let row = job::Entity::find_by_id(candidate.id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| Error::internal("claimed job vanished"))?;
                return job_from_row(row).map(Some);
            }
        }
        Ok(None)
    }

    async fn renew_lease(
        &self,
        id: JobId,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let _turn = self.write_turn().await;
        let res = job::Entity::update_many()
            .col_expr(job::Column::LeaseExpiresAt, Expr::value(lease_until))
            .filter(job::Column::Id.eq(id.to_string()))
            .filter(job::Column::LeaseOwner.eq(owner))
            .filter(job::Column::State.eq(JobState::Running.as_str()))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    async fn save_with_event(
        &self,
        current: &Job,
        owner: &str,
        event: EventKind,
        release: bool,
    ) -> Result<Option<JobEvent>, Error> {
        let cols = job_columns(current)?;
        let _turn = self.write_turn().await;
        let txn = self.db.begin().await?;
        let Some(event) = update_with_event(&txn, current, cols, owner, event, release).await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        txn.commit().await?;
        Ok(Some(event))
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
        let Some(event) = update_with_event(&txn, current, cols, owner, event, true).await? else {
            txn.rollback().await?;
            return Ok(None);
        };
        insert_deliveries(&txn, deliveries).await?;
        usage::insert_lines(&txn, usage_lines).await?;
        txn.commit().await?;
        Ok(Some(event))
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
}
