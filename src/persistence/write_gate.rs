//! SQLite has one writer at a time. Pooled connections that race for its lock lose to
//! SQLite's busy handler, which sleeps up to 100 ms per retry (SubmitJob p99 was about
//! 0.5-0.8 s with 16-64 clients); queueing writers here, in FIFO order, instead keeps
//! every write short. PostgreSQL locks rows and needs no gate.

use sea_orm::{DatabaseConnection, DbBackend};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Clone, Default)]
pub struct WriteGate(Option<Arc<Mutex<()>>>);

impl WriteGate {
    pub fn for_backend(db: &DatabaseConnection) -> Self {
        Self((db.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(()))))
    }

    /// Held for the length of one write (a statement or a transaction).
    pub async fn turn(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.0 {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    pub fn is_open_to_all(&self) -> bool {
        self.0.is_none()
    }
}
