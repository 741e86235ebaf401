//! The writes that move a stored job along: claims, lease renewals, progress, phase
//! changes, hand-backs to the queue, the end, and cancels. Every write is guarded (the
//! caller's lease, or the job still being queued) and appends its event in the same
//! transaction; on PostgreSQL it also notifies the other processes (delivered at commit).
//!
//! Lease times come from the database's clock on PostgreSQL, so replicas whose clocks
//! disagree still agree on when a lease runs out. SQLite is one file on one machine, so
//! the machine's clock is the database's.

use super::convert::{JobColumns, event_from_row, event_payload, phase_str};
use super::entities::{job, job_event};
use super::listen::{CANCEL_CHANNEL, EVENTS_CHANNEL, WORK_CHANNEL};
use crate::domain::{EventKind, Job, JobEvent, JobId, JobState};
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};
use std::time::Duration;

/// Who may write: the holder of the lease (its per-claim owner string is the fencing
/// token), or anyone while the job is still queued (a cancel).
#[derive(Clone, Copy)]
pub enum Guard<'a> {
    Lease(&'a str),
    Queued,
}

/// What happens to the lease with the write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LeaseChange {
    Keep,
    /// The job ended; the lease goes.
    Release,
    /// Back to the queue: claimable after `after` (a backoff), and with `handover` the
    /// attempt does not count (a draining worker gave it back, nothing failed).
    Requeue {
        after: Option<Duration>,
        handover: bool,
    },
}

/// `now() + secs` on the database's clock (PostgreSQL), or the machine's (SQLite).
pub fn db_now_plus(backend: DbBackend, after: Duration) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::cust_with_values(
            "now() + make_interval(secs => $1)",
            [Value::Double(Some(after.as_secs_f64()))],
        ),
        _ => Expr::value(Utc::now() + after),
    }
}

fn db_now(backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::cust("now()"),
        _ => Expr::value(Utc::now()),
    }
}

/// Sends `payload` on `channel` to every listening process when the transaction commits.
pub async fn notify(
    conn: &impl ConnectionTrait,
    channel: &str,
    payload: &str,
) -> Result<(), Error> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [channel.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

const PG_CLAIM: &str = r#"
UPDATE jobs SET state = 'RUNNING', lease_owner = $1,
    lease_expires_at = now() + make_interval(secs => $2),
    attempts = attempts + 1, run_after = NULL, updated_at = now()
WHERE id = (
    SELECT id FROM jobs
    WHERE (state = 'QUEUED' AND (run_after IS NULL OR run_after <= now()))
       OR (state = 'RUNNING' AND lease_expires_at < now())
    ORDER BY priority DESC, created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING *"#;

/// Takes the highest-priority, then oldest, claimable job: queued (and past its
/// backoff), or running on a lease that ran out (its worker is gone, which counts as a
/// failed attempt). On PostgreSQL one statement, skipping rows other claimers hold rather
/// than waiting for them.
pub async fn claim(
    conn: &impl ConnectionTrait,
    owner: &str,
    lease: Duration,
) -> Result<Option<job::Model>, Error> {
    if conn.get_database_backend() == DbBackend::Postgres {
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            PG_CLAIM,
            [owner.into(), lease.as_secs_f64().into()],
        );
        return Ok(job::Entity::find()
            .from_raw_sql(statement)
            .one(conn)
            .await?);
    }
    claim_sqlite(conn, owner, lease).await
}

/// SQLite has one writer at a time (the caller holds the write gate in this process):
/// pick a candidate, then take it only while it is still claimable, which also settles
/// a race with another process on the same file. (sqlx 0.9's SQLite driver panicked
/// reading `UPDATE ... RETURNING *` rows here, so this reads the row back instead.)
async fn claim_sqlite(
    conn: &impl ConnectionTrait,
    owner: &str,
    lease: Duration,
) -> Result<Option<job::Model>, Error> {
    for _ in 0..8 {
        let now = Utc::now();
        let claimable = Condition::any()
            .add(
                Condition::all()
                    .add(job::Column::State.eq(JobState::Queued.as_str()))
                    .add(
                        Condition::any()
                            .add(job::Column::RunAfter.is_null())
                            .add(job::Column::RunAfter.lte(now)),
                    ),
            )
            .add(
                Condition::all()
                    .add(job::Column::State.eq(JobState::Running.as_str()))
                    .add(job::Column::LeaseExpiresAt.lt(now)),
            );
        let Some(candidate) = job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(claimable.clone())
            .order_by_desc(job::Column::Priority)
            .order_by_asc(job::Column::CreatedAt)
            .order_by_asc(job::Column::Id)
            .into_tuple::<String>()
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        let taken = job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(JobState::Running.as_str()))
            .col_expr(job::Column::LeaseOwner, Expr::value(owner))
            .col_expr(job::Column::LeaseExpiresAt, Expr::value(now + lease))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .col_expr(
                job::Column::RunAfter,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(candidate.clone()))
            .filter(claimable)
            .exec(conn)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(job::Entity::find_by_id(candidate).one(conn).await?);
        }
    }
    Ok(None)
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    Held,
    /// Held, and someone asked for the job to be canceled.
    CancelRequested,
    /// Another worker holds the job now, or it ended.
    Lost,
}

pub async fn renew(
    conn: &impl ConnectionTrait,
    id: JobId,
    owner: &str,
    lease: Duration,
) -> Result<LeaseStatus, Error> {
    let backend = conn.get_database_backend();
    let held = job::Entity::update_many()
        .col_expr(job::Column::LeaseExpiresAt, db_now_plus(backend, lease))
        .filter(job::Column::Id.eq(id.to_string()))
        .filter(job::Column::LeaseOwner.eq(owner))
        .filter(job::Column::State.eq(JobState::Running.as_str()))
        .exec(conn)
        .await?
        .rows_affected
        == 1;
    if !held {
        return Ok(LeaseStatus::Lost);
    }
    let cancel: Option<Option<DateTime<Utc>>> = job::Entity::find_by_id(id.to_string())
        .select_only()
        .column(job::Column::CancelRequestedAt)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(match cancel {
        Some(Some(_)) => LeaseStatus::CancelRequested,
        _ => LeaseStatus::Held,
    })
}

/// Appends `kind` as the next event of `job_id` (whose `last_sequence` the caller just
/// raised to `sequence`), and tells other processes.
async fn append_event(
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
    notify(txn, EVENTS_CHANNEL, &job_id.to_string()).await?;
    event_from_row(model)
}

/// Runs a guarded update that also raises `last_sequence`, then appends `event` with
/// the new sequence. None when the guard failed: nothing was changed, and the caller
/// rolls back.
async fn guarded_update_with_event(
    txn: &DatabaseTransaction,
    id: JobId,
    update: sea_orm::UpdateMany<job::Entity>,
    guard: Guard<'_>,
    event: EventKind,
) -> Result<Option<JobEvent>, Error> {
    let update = update
        .col_expr(
            job::Column::LastSequence,
            Expr::col(job::Column::LastSequence).add(1),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.eq(id.to_string()));
    let update = match guard {
        Guard::Lease(owner) => update.filter(job::Column::LeaseOwner.eq(owner)),
        Guard::Queued => update
            .filter(job::Column::State.eq(JobState::Queued.as_str()))
            .filter(job::Column::LeaseOwner.is_null()),
    };
    if update.exec(txn).await?.rows_affected != 1 {
        return Ok(None);
    }
    let sequence: i64 = job::Entity::find_by_id(id.to_string())
        .select_only()
        .column(job::Column::LastSequence)
        .into_tuple()
        .one(txn)
        .await?
        .ok_or_else(|| Error::internal("job vanished mid-update"))?;
    append_event(txn, id, sequence, event).await.map(Some)
}

/// Writes the job's mutable fields and appends `event`, only under `guard`.
pub async fn save_job(
    txn: &DatabaseTransaction,
    current: &Job,
    cols: JobColumns,
    guard: Guard<'_>,
    event: EventKind,
    lease: LeaseChange,
) -> Result<Option<JobEvent>, Error> {
    let backend = txn.get_database_backend();
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(current.state.as_str()))
        .col_expr(job::Column::Phase, Expr::value(phase_str(current.phase)))
        .col_expr(
            job::Column::ProgressPercent,
            Expr::value(current.progress_percent),
        )
        // The outputs carry their percents now; a progress tick writes them again.
        .col_expr(
            job::Column::ProgressJson,
            Expr::value(Option::<String>::None),
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
        .col_expr(job::Column::StartedAt, Expr::value(current.started_at))
        .col_expr(job::Column::FinishedAt, Expr::value(current.finished_at));
    if lease != LeaseChange::Keep {
        update = update
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                job::Column::LeaseExpiresAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
    }
    if let LeaseChange::Requeue { after, handover } = lease {
        let run_after = match after {
            Some(after) => db_now_plus(backend, after),
            None => Expr::value(Option::<DateTime<Utc>>::None),
        };
        update = update.col_expr(job::Column::RunAfter, run_after);
        if handover {
            update = update.col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).sub(1),
            );
        }
    }
    let saved = guarded_update_with_event(txn, current.id, update, guard, event).await?;
    if saved.is_some() && matches!(lease, LeaseChange::Requeue { after: None, .. }) {
        notify(txn, WORK_CHANNEL, "").await?;
    }
    Ok(saved)
}

/// A progress tick: the job's percent and its outputs' percents, and the event; the
/// rest of the row (state, a cancel request, results) is left alone.
pub async fn save_progress(
    txn: &DatabaseTransaction,
    id: JobId,
    owner: &str,
    percent: f64,
    output_percents: &[f64],
    event: EventKind,
) -> Result<Option<JobEvent>, Error> {
    let progress = serde_json::to_string(output_percents)
        .map_err(|e| Error::internal(format!("encoding progress: {e}")))?;
    let update = job::Entity::update_many()
        .col_expr(job::Column::ProgressPercent, Expr::value(percent))
        .col_expr(job::Column::ProgressJson, Expr::value(progress))
        .filter(job::Column::State.eq(JobState::Running.as_str()));
    guarded_update_with_event(txn, id, update, Guard::Lease(owner), event).await
}

/// Marks a running job for cancellation (its worker ends it). False when it is not
/// running (queued, finished, or gone).
pub async fn request_cancel(conn: &impl ConnectionTrait, id: JobId) -> Result<bool, Error> {
    let backend = conn.get_database_backend();
    let res = job::Entity::update_many()
        .col_expr(job::Column::CancelRequestedAt, db_now(backend))
        .filter(job::Column::Id.eq(id.to_string()))
        .filter(job::Column::State.eq(JobState::Running.as_str()))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        notify(conn, CANCEL_CHANNEL, &id.to_string()).await?;
    }
    Ok(res.rows_affected == 1)
}
