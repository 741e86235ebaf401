//! What monitoring reads of the database at scrape time: the queue (queued jobs per
//! priority, the oldest one's submission time) in one grouped query over the claim index,
//! and the connection pool's use, read from memory.

use super::entities::job;
use crate::domain::JobState;
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QuerySelect};

/// Queued jobs of one priority.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedAtPriority {
    pub priority: i32,
    pub jobs: u64,
    /// When the oldest of them was submitted.
    pub oldest_created_at: Option<DateTime<Utc>>,
}

/// The queue at one moment: every priority with at least one queued job (retries waiting
/// out their backoff included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub by_priority: Vec<QueuedAtPriority>,
}

impl QueueStats {
    /// When the oldest queued job was submitted (None when the queue is empty).
    pub fn oldest_created_at(&self) -> Option<DateTime<Utc>> {
        self.by_priority
            .iter()
            .filter_map(|p| p.oldest_created_at)
            .min()
    }
}

/// The pool's connections: open ones (`size`), of which `idle`, and the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// `SELECT priority, COUNT(*), MIN(created_at) FROM jobs WHERE state = 'QUEUED' GROUP BY
/// priority`: the `jobs_claim_order` index (state, priority, created_at) answers it.
pub(super) async fn queue_stats(db: &DatabaseConnection) -> Result<QueueStats, Error> {
    let rows: Vec<(i32, i64, Option<DateTime<Utc>>)> = job::Entity::find()
        .select_only()
        .column(job::Column::Priority)
        .column_as(Expr::col(job::Column::Id).count(), "jobs")
        .column_as(Expr::col(job::Column::CreatedAt).min(), "oldest")
        .filter(job::Column::State.eq(JobState::Queued.as_str()))
        .group_by(job::Column::Priority)
        .into_tuple()
        .all(db)
        .await?;
    Ok(QueueStats {
        by_priority: rows
            .into_iter()
            .map(|(priority, jobs, oldest_created_at)| QueuedAtPriority {
                priority,
                jobs: u64::try_from(jobs).unwrap_or(0),
                oldest_created_at,
            })
            .collect(),
    })
}

pub(super) fn pool_stats(db: &DatabaseConnection) -> PoolStats {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            PoolStats {
                size: pool.size(),
                idle: pool.num_idle() as u32,
                max: pool.options().get_max_connections(),
            }
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            PoolStats {
                size: pool.size(),
                idle: pool.num_idle() as u32,
                max: pool.options().get_max_connections(),
            }
        }
        // Only SQLite and PostgreSQL are built in.
        _ => PoolStats::default(),
    }
}
