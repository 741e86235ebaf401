//! Durable state behind small traits: jobs and their events ([`JobRepository`]),
//! notifications, companies and tokens, company profiles.
//! One sea-orm implementation serves SQLite (default) and PostgreSQL.

mod checkpoint;
mod companies;
mod convert;
mod deliveries;
pub mod entities;
mod group_commit;
mod job_writes;
mod listen;
pub mod migrate;
pub mod migrations;
mod notifications;
mod profiles;
mod sea;
mod stats;
mod usage;
mod write_gate;

use crate::domain::notification::Notification;
use crate::domain::{CompanyId, EventKind, Job, JobEvent, JobId, JobState, UsageLine};
use crate::error::{Error, ErrorCode};
use async_trait::async_trait;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

pub use checkpoint::spawn_wal_checkpoints;
pub use companies::{CompanyRepository, Revoked, SeaCompanyRepository};
pub use job_writes::{LeaseChange, LeaseStatus};
pub use listen::{Signal, spawn_listener};
pub use notifications::{NotificationRepository, SeaNotificationRepository};
pub use profiles::{ProfileRepository, SeaProfileRepository};
pub use sea::SeaJobRepository;
pub use stats::{PoolStats, QueueStats, QueuedAtPriority};
pub use usage::{SeaUsageRepository, UsageRepository};
use write_gate::WriteGate;

/// A job just claimed, and whether a cancel was asked for before the claim (then the
/// claimer ends it CANCELED instead of running it).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub job: Job,
    pub cancel_requested: bool,
}

/// The outcome of inserting a job that may carry an idempotency key.
#[derive(Debug, Clone)]
pub enum Inserted {
    /// Stored, with its first event.
    Created(Box<JobEvent>),
    /// The company already submitted this idempotency key: here is that job.
    Existing(Box<Job>),
}

#[async_trait]
pub trait JobRepository: Send + Sync + 'static {
    /// Stores a new job and its first event, atomically.
    async fn insert(&self, job: &Job, first_event: EventKind) -> Result<Inserted, Error>;

    async fn get(&self, company: &CompanyId, id: JobId) -> Result<Option<Job>, Error>;

    /// A company's jobs, newest first, with ids below `before` when given.
    async fn list(
        &self,
        company: &CompanyId,
        state: Option<JobState>,
        limit: u64,
        before: Option<JobId>,
    ) -> Result<Vec<Job>, Error>;

    /// Takes the highest-priority, then oldest, claimable job (queued and past its
    /// backoff, or running on an expired lease) and leases it to `owner` for `lease`
    /// (on the database's clock). `owner` must be unique to this claim: it is the
    /// fencing token every later write of the claimer is checked against.
    async fn claim_next(&self, owner: &str, lease: Duration) -> Result<Option<Claimed>, Error>;

    /// Extends the lease by `lease` from now, and says whether a cancel was asked for.
    async fn renew_lease(
        &self,
        id: JobId,
        owner: &str,
        lease: Duration,
    ) -> Result<LeaseStatus, Error>;

    /// Writes the job's mutable fields and appends `event` with the next sequence, in one
    /// transaction, only while `owner` holds the lease (None when it does not). `lease`
    /// says whether the lease is kept, or the job goes back to the queue.
    async fn save_with_event(
        &self,
        job: &Job,
        owner: &str,
        event: EventKind,
        lease: LeaseChange,
    ) -> Result<Option<JobEvent>, Error>;

    /// A progress tick: only the job's percent and its outputs' percents, with `event`,
    /// under `owner`'s lease. The rest of the row is not written.
    async fn save_progress(
        &self,
        id: JobId,
        owner: &str,
        percent: f64,
        output_percents: &[f64],
        event: EventKind,
    ) -> Result<Option<JobEvent>, Error>;

    /// Cancels a job that is still queued (nobody holds it): `job` in its CANCELED form,
    /// its event and its notification `deliveries`, in one transaction. None when the
    /// job is no longer queued.
    async fn cancel_queued(
        &self,
        job: &Job,
        event: EventKind,
        deliveries: &[Notification],
    ) -> Result<Option<JobEvent>, Error>;

    /// Asks the worker running the job to cancel it. False when it is not running.
    async fn request_cancel(&self, id: JobId) -> Result<bool, Error>;

    /// Ends the job: its terminal fields (billing included), `event` (the JobFinished),
    /// its notification `deliveries` and its billed `usage_lines`, in one transaction,
    /// only while `owner` holds the lease, which is released. None when the lease is
    /// lost: then nothing is written. Deliveries and usage lines already stored (same
    /// ids) are left as they are.
    async fn finish(
        &self,
        job: &Job,
        owner: &str,
        event: EventKind,
        deliveries: &[Notification],
        usage_lines: &[UsageLine],
    ) -> Result<Option<JobEvent>, Error>;

    /// Events with a sequence above `after`, in order, at most `limit`.
    async fn events_after(&self, id: JobId, after: u64, limit: u64)
    -> Result<Vec<JobEvent>, Error>;

    /// Queued jobs per priority and the oldest one's submission time, in one cheap query
    /// (for metrics; the caller bounds it with a deadline).
    async fn queue_stats(&self) -> Result<QueueStats, Error>;

    /// The database pool's connections (open, idle, cap), read from memory.
    fn pool_stats(&self) -> PoolStats;
}

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        Error::new(ErrorCode::Unavailable, format!("database error: {e}"))
    }
}

/// See `connect`: a transaction left idle this long is ended by the server.
const IDLE_IN_TRANSACTION_LIMIT: &str = "10s";

/// Connects and prepares the database; with `migrate`, also applies pending migrations
/// (under the migration lock, see [`migrate`]). Without it the schema is left to a
/// `transcoder migrate` step, and readiness says when it is current.
pub async fn connect(
    url: &str,
    max_connections: u32,
    migrate: bool,
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // On every pooled connection: WAL lets readers (watchers, listings) run beside
        // the one writer, and in WAL mode synchronous=NORMAL syncs at checkpoints
        // instead of at every commit. A commit stays atomic and the database
        // consistent; only the last commits before a power cut (not a crash of this
        // process) may be lost. FULL capped SubmitJob at one fsync each (~400/s here).
        // A session stuck inside a transaction (its process paused or partitioned)
        // would hold its row locks, and claims skip locked rows: the server ends such a
        // session after the lease's length, so the job can be reclaimed.
        .map_sqlx_postgres_opts(|pg| {
            pg.options([(
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_LIMIT,
            )])
        })
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .pragma(
                    "wal_autocheckpoint",
                    checkpoint::AUTOCHECKPOINT_PAGES.to_string(),
                )
        });
    let db = Database::connect(options).await?;
    if migrate {
        let applied = migrate::apply_pending(&db, url).await?;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
    }
    Ok(db)
}
