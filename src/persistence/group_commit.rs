//! Group commit for new jobs: submissions that arrive while a write is in flight are
//! stored together, in one transaction of two multi-row statements.
//!
//! One insert per transaction capped SubmitJob at about 1,400/s with 64 clients on either
//! backend: every submission paid for its own BEGIN, two statements, COMMIT (an fsync on
//! PostgreSQL) and, on SQLite, a turn at the single writer's lock. A batch pays for them
//! once. A lone submission is written at once, in a batch of one, so latency at low load
//! is unchanged.

use super::convert::{event_payload, job_columns, phase_str};
use super::entities::{job, job_event};
use super::{Inserted, WriteGate};
use crate::domain::{CompanyId, EventKind, Job, JobEvent};
use crate::error::{Error, ErrorCode};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// At most this many jobs per transaction (19 bound parameters each: well under the
/// bind limits of SQLite, 32,766, and PostgreSQL, 65,535).
const MAX_BATCH: usize = 256;

struct Submission {
    /// About what the row costs on the wire, in bytes.
    wire_size: usize,
    job: job::ActiveModel,
    event: JobEvent,
    event_row: job_event::ActiveModel,
    /// (company, idempotency key), when the job has a key.
    key: Option<(CompanyId, String)>,
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
    /// the returned handle is dropped.
    pub fn start(
        db: DatabaseConnection,
        write_gate: WriteGate,
        writers: usize,
        max_batch_bytes: usize,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            let (db, gate, rx) = (db.clone(), write_gate.clone(), rx.clone());
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&rx, max_batch_bytes).await {
                    write_batch(&db, &gate, batch).await;
                }
            });
        }
        Self { submissions: tx }
    }

    /// Stores `new_job` with `first_event` as its sequence 1, or returns the job that
    /// already holds its idempotency key.
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
    })
}

async fn write_batch(db: &DatabaseConnection, gate: &WriteGate, batch: Vec<Submission>) {
    // A key submitted twice within the batch: the later ones wait for the first.
    let mut first_with_key: HashMap<(CompanyId, String), usize> = HashMap::new();
    let mut leaders = Vec::with_capacity(batch.len());
    let mut followers: Vec<(usize, Submission)> = Vec::new();
    for submission in batch {
        match &submission.key {
            Some(key) if first_with_key.contains_key(key) => {
                followers.push((first_with_key[key], submission));
            }
            Some(key) => {
                first_with_key.insert(key.clone(), leaders.len());
                leaders.push(submission);
            }
            None => leaders.push(submission),
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
            for s in leaders
                .into_iter()
                .chain(followers.into_iter().map(|(_, s)| s))
            {
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
            existing(db, s).await
        };
        outcomes.push(outcome);
    }
    for (leader, s) in followers {
        let outcome = match &outcomes[leader] {
            Ok(Inserted::Created(_)) => existing(db, &s).await,
            other => other.clone(),
        };
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
    }
    txn.commit().await?;
    Ok(created)
}

/// The stored job holding `s`'s idempotency key.
async fn existing(db: &DatabaseConnection, s: &Submission) -> Result<Inserted, Error> {
    let Some((company, key)) = &s.key else {
        return Err(Error::internal(format!(
            "job {} was not stored and has no idempotency key",
            s.event.job_id
        )));
    };
    let row = job::Entity::find()
        .filter(job::Column::CompanyId.eq(company.as_str()))
        .filter(job::Column::IdempotencyKey.eq(key.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| Error::internal("idempotency key collided with no stored job"))?;
    Ok(Inserted::Existing(Box::new(super::convert::job_from_row(
        row,
    )?)))
}
