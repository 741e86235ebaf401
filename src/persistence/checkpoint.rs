//! SQLite WAL checkpoints off the write path.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages:
//! that commit then copies and syncs the WAL into the database while every other writer
//! waits behind it. It was SubmitJob's p99 with 16-64 clients (about 30 ms against a p50
//! of 2-7 ms). A passive checkpoint from this task each second does the same work
//! beside the writers instead; the automatic one stays, at a much larger size, as a
//! bound on the WAL if this task falls behind.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// WAL pages (4 KiB each) after which a commit checkpoints by itself.
pub const AUTOCHECKPOINT_PAGES: u32 = 16_000;
const INTERVAL: Duration = Duration::from_secs(1);

/// None unless `db` is SQLite.
pub fn spawn_wal_checkpoints(
    db: DatabaseConnection,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
            if let Err(e) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
            }
        }
    }))
}
