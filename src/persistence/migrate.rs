//! Schema migrations under a cross-process lock, and the question readiness asks: is
//! the schema current?
//!
//! Replicas that start together (a rolling deploy, `replicas: 3`, or several
//! `transcoder migrate` jobs) would each see the same pending migrations and apply them
//! at once: even sea-orm's `CREATE TABLE IF NOT EXISTS seaql_migrations` races on
//! PostgreSQL, and the second `CREATE TABLE jobs` fails. So a migrator first takes a lock
//! that every process on the database shares, reads what is pending under it, applies
//! that and lets go; the others then find nothing left to do.

use super::migrations::Migrator;
use crate::error::{Error, ErrorCode, Result};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityName,
    EntityTrait,
};
use sea_orm_migration::{MigratorTrait, SchemaManager, seaql_migrations};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The PostgreSQL advisory lock key migrators share: "transcod" in ASCII.
const PG_MIGRATION_LOCK_KEY: i64 = 0x7472_616e_7363_6f64;

/// Applies the pending migrations while holding the migration lock, and returns how many
/// it applied (0 when another process got there first). `db` is a pool on `url`.
pub async fn apply_pending(db: &DatabaseConnection, url: &str) -> Result<usize> {
    match db.get_database_backend() {
        DbBackend::Postgres => apply_under_advisory_lock(url).await,
        DbBackend::Sqlite => apply_under_file_lock(db, url).await,
        other => Err(Error::new(
            ErrorCode::Internal,
            format!("no migration lock for the {other:?} backend"),
        )),
    }
}

/// How many migrations this binary knows that the database has not applied yet.
///
/// Read-only (unlike `Migrator::get_pending_migrations`, it never creates the
/// migrations table), and migrations the database has but this binary does not know
/// are not an error: during a rolling deploy the old replicas keep serving on the newer,
/// backward-compatible schema.
pub async fn pending_count(db: &DatabaseConnection) -> Result<usize> {
    let known = Migrator::migrations();
    let table = seaql_migrations::Entity.table_name();
    if !SchemaManager::new(db).has_table(table).await? {
        return Ok(known.len());
    }
    let applied: HashSet<String> = seaql_migrations::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.version)
        .collect();
    Ok(known
        .iter()
        .filter(|migration| !applied.contains(migration.name()))
        .count())
}

/// Reads what is pending and applies it. Only ever called under the migration lock.
async fn apply_locked(db: &DatabaseConnection) -> Result<usize> {
    let pending = Migrator::get_pending_migrations(db).await?.len();
    if pending > 0 {
        Migrator::up(db, None).await?;
    }
    Ok(pending)
}

/// PostgreSQL: a session advisory lock belongs to one connection, so the lock and every
/// migration statement go through a pool of exactly one connection that is never
/// recycled mid-way (no idle timeout, no lifetime, no ping that could replace it).
/// Closing that connection releases the lock even if the unlock itself fails.
async fn apply_under_advisory_lock(url: &str) -> Result<usize> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        // Waiting for the lock happens inside a query, not while acquiring.
        .acquire_timeout(Duration::from_secs(30))
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .sqlx_logging(false);
    let session = Database::connect(options).await?;
    let outcome = async {
        session
            .execute_unprepared(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK_KEY})"))
            .await?;
        let applied = apply_locked(&session).await;
        let unlocked = session
            .execute_unprepared(&format!(
                "SELECT pg_advisory_unlock({PG_MIGRATION_LOCK_KEY})"
            ))
            .await;
        let applied = applied?;
        unlocked?;
        Ok(applied)
    }
    .await;
    if let Err(e) = session.close().await {
        tracing::warn!(error = %e, "closing the migration connection");
    }
    outcome
}

/// SQLite: an exclusive OS lock on a file beside the database (`<db>.migrate-lock`),
/// taken on the blocking pool since `File::lock` waits in the kernel. The lock goes
/// with the file handle, also when this process dies.
async fn apply_under_file_lock(db: &DatabaseConnection, url: &str) -> Result<usize> {
    let Some(lock_path) = sqlite_lock_path(url) else {
        // In memory: no other process can see this database.
        return apply_locked(db).await;
    };
    let lock = tokio::task::spawn_blocking(move || lock_exclusively(&lock_path))
        .await
        .map_err(|e| Error::internal(format!("taking the migration lock: {e}")))??;
    let applied = apply_locked(db).await;
    drop(lock);
    applied
}

fn lock_exclusively(path: &Path) -> Result<File> {
    let locking_failed = |e: std::io::Error| {
        Error::new(
            ErrorCode::Unavailable,
            format!("taking the migration lock {}: {e}", path.display()),
        )
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(locking_failed)?;
    file.lock().map_err(locking_failed)?;
    Ok(file)
}

/// The lock file for a `sqlite:` URL's database file; None for an in-memory database.
fn sqlite_lock_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    let mut lock = PathBuf::from(path).into_os_string();
    lock.push(".migrate-lock");
    Some(lock.into())
}

#[cfg(test)]
mod tests {
    use super::sqlite_lock_path;
    use std::path::PathBuf;

    #[test]
    fn the_lock_file_sits_beside_the_database_file() {
        assert_eq!(
            sqlite_lock_path("sqlite:///var/lib/t/transcoder.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/t/transcoder.db.migrate-lock"))
        );
        assert_eq!(
            sqlite_lock_path("sqlite:data/transcoder.db"),
            Some(PathBuf::from("data/transcoder.db.migrate-lock"))
        );
        assert_eq!(sqlite_lock_path("sqlite::memory:"), None);
        assert_eq!(sqlite_lock_path("sqlite://x.db?mode=memory"), None);
    }
}
