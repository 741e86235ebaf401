//! Group commit for new jobs: submissions that arrive while a write is in flight are
//! stored together, in one transaction of two multi-row statements.
//!
//! One insert per transaction capped SubmitJob at about 1,400/s with 64 clients on either
//! backend: every submission paid for its own BEGIN, two statements, COMMIT (an fsync on
//! PostgreSQL) and, on SQLite, a turn at the single writer's lock. A batch pays for them
//! once. A lone submission is written at once, in a batch of one, so latency at low load
//! is unchanged.
//!
//! A submission whose idempotency key is already held is settled against the holder:
//! within the window the same order gets the stored job and another order is refused;
//! a holder older than the window gives the key up and the submission is stored anew.

use super::convert::{event_payload, job_columns, phase_str};
use super::entities::{job, job_event};
use super::listen::WORK_CHANNEL;
use super::{Inserted, WriteGate};
use crate::domain::{CompanyId, EventKind, Job, JobEvent};
use crate::error::{Error, ErrorCode, FieldViolation};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait,
};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// At most this many jobs per transaction (26 bound parameters each: well under the
/// bind limits of SQLite, 32,766, and PostgreSQL, 65,535).
const MAX_BATCH: usize = 256;

/// Rounds of "look up the key's holder, free it or retry the insert" before a collided
/// submission gives up. Each round that does not settle means another submission took
/// the key in between, which is rare; a few rounds settle it.
const MAX_KEY_ROUNDS: usize = 4;

struct Submission {
    /// About what the row costs on the wire, in bytes.
    wire_size: usize,
    job: job::ActiveModel,
    event: JobEvent,
    event_row: job_event::ActiveModel,
    /// (company, idempotency key), when the job has a key.
    key: Option<(CompanyId, String)>,
    /// The order's fingerprint, compared with the key holder's.
    fingerprint: Option<String>,
    reply: oneshot::Sender<Result<Inserted, Error>>,
}

/// Hands new jobs to `writers` tasks that each store whatever has queued up since their
/// last transaction.
#[derive(Clone)]
pub struct GroupCommit {
    submissions: mpsc::UnboundedSender<Submission>,
}

impl GroupCommit {
    /// Must be called inside a Tokio runtime. The writer tasks end when the last clone of
    /// the returned handle is dropped. An idempotency key holds its job for
    /// `idempotency_window`.
    pub fn start(
        db: DatabaseConnection,
        write_gate: WriteGate,
        writers: usize,
        max_batch_bytes: usize,
        idempotency_window: std::time::Duration,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        let window = TimeDelta::from_std(idempotency_window).unwrap_or(TimeDelta::MAX);
        for _ in 0..writers.max(1) {
            let (db, gate, rx) = (db.clone(), write_gate.clone(), rx.clone());
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&rx, max_batch_bytes).await {
                    write_batch(&db, &gate, window, batch).await;
                }
            });
        }
        Self { submissions: tx }
    }

    /// Stores `new_job` with `first_event` as its sequence 1, or returns the job that
    /// already holds its idempotency key for the same order (ALREADY_EXISTS for another
    /// order).
    pub async fn insert(&self, new_job: &Job, first_event: EventKind) -> Result<Inserted, Error> {
        let event = JobEvent {
            job_id: new_job.id,
            sequence: 1,
            time: Utc::now(),
            kind: first_event,
        };
        let event_row = job_event::ActiveModel {
            job_id: Set(event.job_id.to_string()),
            sequence: Set(1),
            time: Set(event.time),
            payload_json: Set(event_payload(&event.kind)?),
        };
        // Rows are encoded here, by each caller in parallel, not by the writer.
        let (reply, answer) = oneshot::channel();
        let job = job_row(new_job)?;
        let submission = Submission {
            wire_size: wire_size(&job, &event_row),
            job,
            event,
            event_row,
            key: new_job
                .idempotency_key
                .clone()
                .map(|k| (new_job.company_id.clone(), k)),
            fingerprint: new_job.idempotency_fingerprint.clone(),
            reply,
        };
        self.submissions
            .send(submission)
            .map_err(|_| Error::new(ErrorCode::Unavailable, "the job store is shutting down"))?;
        answer
            .await
            .map_err(|_| Error::internal("the job store dropped a submission"))?
    }
}

/// Waits for one submission, then takes whatever else is already queued, up to
/// `max_bytes` on the wire.
async fn next_batch(
    rx: &Mutex<mpsc::UnboundedReceiver<Submission>>,
    max_bytes: usize,
) -> Option<Vec<Submission>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut bytes = first.wire_size;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH && bytes < max_bytes {
        match rx.try_recv() {
            Ok(more) => {
                bytes += more.wire_size;
                batch.push(more);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

fn wire_size(job: &job::ActiveModel, event: &job_event::ActiveModel) -> usize {
    let text = |v: &sea_orm::ActiveValue<String>| v.as_ref().len();
    let optional =
        |v: &sea_orm::ActiveValue<Option<String>>| v.as_ref().as_ref().map_or(0, String::len);
    // Ids, timestamps, numbers and the statement's share of column names and types.
    const FIXED: usize = 400;
    FIXED
        + text(&job.order_json)
        + text(&job.outputs_json)
        + optional(&job.source_json)
        + optional(&job.error_json)
        + optional(&job.thumbnails_json)
        + optional(&job.storyboards_json)
        + optional(&job.idempotency_key)
        + optional(&job.idempotency_fingerprint)
        + optional(&job.trace_context)
        + text(&event.payload_json)
}

fn job_row(new_job: &Job) -> Result<job::ActiveModel, Error> {
    let cols = job_columns(new_job)?;
    Ok(job::ActiveModel {
        id: Set(new_job.id.to_string()),
        company_id: Set(new_job.company_id.as_str().to_owned()),
        state: Set(new_job.state.as_str().to_owned()),
        phase: Set(phase_str(new_job.phase)),
        priority: Set(new_job.order.priority.get()),
        progress_percent: Set(new_job.progress_percent),
        order_json: Set(cols.order_json),
        outputs_json: Set(cols.outputs_json),
        source_json: Set(cols.source_json),
        error_json: Set(cols.error_json),
        billing_json: Set(cols.billing_json),
        thumbnails_json: Set(cols.thumbnails_json),
        storyboards_json: Set(cols.storyboards_json),
        attempts: Set(new_job.attempts as i32),
        idempotency_key: Set(new_job.idempotency_key.clone()),
        last_sequence: Set(1),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        created_at: Set(new_job.created_at),
        updated_at: Set(new_job.updated_at),
        started_at: Set(new_job.started_at),
        finished_at: Set(new_job.finished_at),
        run_after: Set(None),
        cancel_requested_at: Set(None),
        progress_json: Set(None),
        idempotency_fingerprint: Set(new_job.idempotency_fingerprint.clone()),
        trace_context: Set(new_job.trace_context.clone()),
    })
}

async fn write_batch(
    db: &DatabaseConnection,
    gate: &WriteGate,
    window: TimeDelta,
    batch: Vec<Submission>,
) {
    // A key submitted twice within the batch: the later ones wait for the first.
    let mut keys_seen: HashSet<(CompanyId, String)> = HashSet::new();
    let mut leaders = Vec::with_capacity(batch.len());
    let mut followers: Vec<Submission> = Vec::new();
    for submission in batch {
        match &submission.key {
            Some(key) if !keys_seen.insert(key.clone()) => followers.push(submission),
            _ => leaders.push(submission),
        }
    }
    let created = {
        let _turn = gate.turn().await;
        store(db, &leaders).await
    };
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            let e = Error::from(e);
            for s in leaders.into_iter().chain(followers) {
                let _ = s.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(leaders.len());
    for s in &leaders {
        let outcome = if created.contains(&s.event.job_id.to_string()) {
            Ok(Inserted::Created(Box::new(s.event.clone())))
        } else {
            settle_collision(db, gate, window, s).await
        };
        outcomes.push(outcome);
    }
    // Settled one by one against whatever now holds the key: a follower's order may
    // differ from its leader's, so the leader's answer is not necessarily its own.
    for s in followers {
        let outcome = settle_collision(db, gate, window, &s).await;
        let _ = s.reply.send(outcome);
    }
    for (s, outcome) in leaders.into_iter().zip(outcomes) {
        let _ = s.reply.send(outcome);
    }
}

/// Inserts the jobs that do not collide with a stored idempotency key, and their first
/// events, in one transaction. Returns the ids of the jobs stored.
async fn store(db: &DatabaseConnection, batch: &[Submission]) -> Result<Vec<String>, DbErr> {
    let txn = db.begin().await?;
    let inserted = job::Entity::insert_many(batch.iter().map(|s| s.job.clone()))
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_with_returning_keys(&txn)
        .await;
    let created = match inserted {
        Ok(ids) => ids,
        Err(DbErr::RecordNotInserted) => Vec::new(),
        Err(e) => {
            txn.rollback().await?;
            return Err(e);
        }
    };
    let events: Vec<_> = batch
        .iter()
        .filter(|s| created.contains(&s.event.job_id.to_string()))
        .map(|s| s.event_row.clone())
        .collect();
    if !events.is_empty() {
        job_event::Entity::insert_many(events)
            .exec_without_returning(&txn)
            .await?;
        // Idle workers of every process claim them now, not at their next poll: one
        // notification per batch, delivered when it commits.
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            let wake = format!("SELECT pg_notify('{WORK_CHANNEL}', '')");
            txn.execute_unprepared(&wake).await?;
        }
    }
    txn.commit().await?;
    Ok(created)
}

/// Settles a submission whose key is (or was, at insert time) held by a stored job:
/// the holder within the window answers for the same order and refuses another; a
/// holder past the window gives the key up and the submission is stored in its place.
async fn settle_collision(
    db: &DatabaseConnection,
    gate: &WriteGate,
    window: TimeDelta,
    s: &Submission,
) -> Result<Inserted, Error> {
    let Some((company, key)) = &s.key else {
        return Err(Error::internal(format!(
            "job {} was not stored and has no idempotency key",
            s.event.job_id
        )));
    };
    for _ in 0..MAX_KEY_ROUNDS {
        match key_holder(db, company, key).await? {
            Some(holder) if !outlived(holder.created_at, window) => {
                return same_order_or_refused(holder, s.fingerprint.as_deref(), key);
            }
            Some(holder) => release_key(db, gate, &holder, key).await?,
            // Released by another submission since the insert: try again.
            None => {}
        }
        let created = {
            let _turn = gate.turn().await;
            store(db, std::slice::from_ref(s)).await?
        };
        if created.contains(&s.event.job_id.to_string()) {
            return Ok(Inserted::Created(Box::new(s.event.clone())));
        }
    }
    Err(Error::new(
        ErrorCode::Unavailable,
        format!("idempotency key \"{key}\" kept changing hands; try again"),
    )
    .retryable(true))
}

/// The stored job holding the company's idempotency key, if any.
async fn key_holder(
    db: &DatabaseConnection,
    company: &CompanyId,
    key: &str,
) -> Result<Option<job::Model>, Error> {
    Ok(job::Entity::find()
        .filter(job::Column::CompanyId.eq(company.as_str()))
        .filter(job::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// Whether a key taken at `created_at` has outlived the window (and is free again).
fn outlived(created_at: DateTime<Utc>, window: TimeDelta) -> bool {
    Utc::now()
        .checked_sub_signed(window)
        .is_some_and(|cutoff| created_at < cutoff)
}

/// The holder's job when it was submitted for the same order; rows stored before
/// orders had fingerprints count as the same order.
fn same_order_or_refused(
    holder: job::Model,
    fingerprint: Option<&str>,
    key: &str,
) -> Result<Inserted, Error> {
    let same = match (holder.idempotency_fingerprint.as_deref(), fingerprint) {
        (Some(stored), Some(new)) => stored == new,
        _ => true,
    };
    if !same {
        let job_id = holder.id;
        return Err(Error {
            fields: vec![FieldViolation::new(
                "idempotency_key",
                format!(
                    "was used for a different order (job {job_id}); a new order needs a new key"
                ),
            )],
            ..Error::new(
                ErrorCode::AlreadyExists,
                format!(
                    "idempotency key \"{key}\" is already used by job {job_id} for a different order"
                ),
            )
        });
    }
    Ok(Inserted::Existing(Box::new(super::convert::job_from_row(
        holder,
    )?)))
}

/// Clears the key of a holder past the window, so the unique (company, key) index lets
/// a new job take it; the old job itself stays. Matching the row by id and key (not by
/// a time in SQL) clears nothing if another submission already released it.
async fn release_key(
    db: &DatabaseConnection,
    gate: &WriteGate,
    holder: &job::Model,
    key: &str,
) -> Result<(), Error> {
    let _turn = gate.turn().await;
    job::Entity::update_many()
        .col_expr(
            job::Column::IdempotencyKey,
            Expr::value(Option::<String>::None),
        )
        .filter(job::Column::Id.eq(holder.id.as_str()))
        .filter(job::Column::CompanyId.eq(holder.company_id.as_str()))
        .filter(job::Column::IdempotencyKey.eq(key))
        .exec(db)
        .await?;
    Ok(())
}
