//! A fresh PostgreSQL database for one test or benchmark run, on the machine's server
//! (`make postgres`), dropped with the value.

use sea_orm::{ConnectionTrait, Database, DbErr};

/// The server's maintenance database the per-run databases are made from:
/// `TEST_PG_ADMIN_URL`, else `postgres` on 127.0.0.1:5432 as user postgres.
pub fn admin_url() -> String {
    std::env::var("TEST_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// An empty database (no migrations), dropped (`WITH (FORCE)`) when the value is, or at
/// once with [`PgDatabase::remove`].
#[derive(Debug)]
pub struct PgDatabase {
    /// `None` once dropped.
    name: Option<String>,
    url: String,
}

impl PgDatabase {
    /// Creates `{prefix}_{uuid}`; `prefix` must be a plain lower-case identifier.
    pub async fn create(prefix: &str) -> Result<Self, DbErr> {
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        let admin_url = admin_url();
        let admin = Database::connect(&admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        Ok(Self {
            url: format!("{base}/{name}"),
            name: Some(name),
        })
    }

    /// Its connection URL (for `DATABASE_URL` or `database.url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now, disconnecting whoever is still connected.
    pub async fn remove(mut self) -> Result<(), DbErr> {
        match self.name.take() {
            Some(name) => drop_database(&name).await,
            None => Ok(()),
        }
    }
}

async fn drop_database(name: &str) -> Result<(), DbErr> {
    let admin = Database::connect(admin_url()).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        // Drop cannot await, and may run inside a runtime: a small one on its own thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(drop_database(&name));
            }
        })
        .join();
    }
}
