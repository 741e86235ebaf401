//! Durable state behind small traits: jobs and their events ([`JobRepository`]),
//! notifications, companies and tokens, company profiles.
//! One sea-orm implementation serves SQLite (default) and PostgreSQL.

mod checkpoint;
mod companies;
mod convert;
mod deliveries;
pub mod entities;
mod group_commit;
pub mod migrations;
mod notifications;
mod profiles;
mod sea;
mod usage;
mod write_gate;

use crate::domain::notification::Notification;
use crate::domain::{CompanyId, EventKind, Job, JobEvent, JobId, JobState, UsageLine};
use crate::error::{Error, ErrorCode};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

pub use checkpoint::spawn_wal_checkpoints;
pub use companies::{CompanyRepository, Revoked, SeaCompanyRepository};
pub use notifications::{NotificationRepository, SeaNotificationRepository};
pub use profiles::{ProfileRepository, SeaProfileRepository};
pub use sea::SeaJobRepository;
pub use usage::{SeaUsageRepository, UsageRepository};
use write_gate::WriteGate;

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

    /// Takes the highest-priority, then oldest, claimable job (queued, or running on an
    /// expired lease) and leases it to `owner` until `lease_until`.
    async fn claim_next(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, Error>;

    /// Extends the lease; false when `owner` no longer holds it.
    async fn renew_lease(
        &self,
        id: JobId,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, Error>;

    /// Writes the job's mutable fields and appends `event` with the next sequence, in one
    /// transaction, only while `owner` holds the lease (None when it does not). With
    /// `release`, the lease is given up in the same write.
    async fn save_with_event(
        &self,
        job: &Job,
        owner: &str,
        event: EventKind,
        release: bool,
    ) -> Result<Option<JobEvent>, Error>;

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
}

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        Error::new(ErrorCode::Unavailable, format!("database error: {e}"))
    }
}

/// Connects, prepares the database and runs pending migrations.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
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
    migrations::Migrator::up(&db, None).await?;
    Ok(db)
}
