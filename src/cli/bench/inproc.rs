//! The service in this process (sections 3-5): the real app on port 0 with a fresh
//! SQLite file or a fresh PostgreSQL database, and real gRPC clients.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};
use std::path::{Path, PathBuf};
use tonic::transport::Channel;
use transcoder::admin::{Admin, NewCompany};
use transcoder::app::RunningApp;
use transcoder::config::Settings;
use transcoder::domain::RateLimit;
use transcoder::proto as pb;

pub use transcoder::client::Client;

pub const COMPANY: &str = "bench";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

fn pg_admin_url() -> String {
    std::env::var("BENCH_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates the bench's company (no rate limit: the bench measures the server) and
/// returns an API token for it.
pub async fn bench_company_token(admin: &Admin) -> anyhow::Result<String> {
    let created = admin
        .create_company(NewCompany {
            slug: COMPANY.into(),
            name: Some("Benchmarks".into()),
            priority_transcoding: true,
            rate_limit: Some(RateLimit {
                per_second: 0.0,
                burst: 1,
            }),
        })
        .await;
    match created {
        Ok(_) => {}
        // A data dir used before: the company is there already.
        Err(e) if e.code == transcoder::error::ErrorCode::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    let (_, token) = admin.create_token(COMPANY, Some("bench")).await?;
    Ok(token)
}

pub struct BenchApp {
    pub app: RunningApp,
    token: String,
    _data_dir: tempfile::TempDir,
    pg_database: Option<PgDatabase>,
}

pub struct AppOptions {
    pub backend: Backend,
    pub workers: usize,
    pub paused: bool,
    /// Where bench media lives: `file://` origins there are allowed.
    pub media_dir: PathBuf,
}

impl BenchApp {
    pub async fn start(options: AppOptions) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let mut settings = Settings {
            data_dir: data_dir.path().to_owned(),
            ..Settings::default()
        };
        settings.server.grpc_addr = ([127, 0, 0, 1], 0).into();
        settings.server.http_addr = ([127, 0, 0, 1], 0).into();
        settings.storage.allowed_roots = vec![options.media_dir];
        settings.workers.concurrency = options.workers;
        settings.workers.paused = options.paused;
        let mut pg_database = None;
        match options.backend {
            Backend::Sqlite => settings.database.url = None,
            Backend::Postgres => {
                let database = PgDatabase::create().await?;
                settings.database.url = Some(database.url.clone());
                pg_database = Some(database);
            }
        }
        let app = RunningApp::start(settings).await?;
        let token = bench_company_token(&app.admin).await?;
        Ok(Self {
            app,
            token,
            _data_dir: data_dir,
            pg_database,
        })
    }

    pub fn url(&self) -> String {
        format!(
            "http://{}",
            self.app.grpc_addr.expect("the bench runs the API")
        )
    }

    /// `count` separate HTTP/2 connections (each carries many concurrent calls).
    pub async fn channels(&self, count: usize) -> anyhow::Result<Vec<Client>> {
        let mut clients = Vec::with_capacity(count);
        for _ in 0..count {
            let channel = Channel::from_shared(self.url())?.connect().await?;
            clients.push(transcoder::client::with_token(channel, &self.token)?);
        }
        Ok(clients)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.app.shutdown().await;
        if let Some(database) = self.pg_database {
            database.drop().await?;
        }
        Ok(())
    }
}

/// A fresh PostgreSQL database for one bench run (the server's schema is applied by
/// whoever connects first with migrations on).
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let name = format!("transcoder_bench_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(pg_admin_url())
            .await
            .context("PostgreSQL must answer on 127.0.0.1:5432 (make postgres)")?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let base = pg_admin_url()
            .rsplit_once('/')
            .context("admin url")?
            .0
            .to_owned();
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Drops the database, disconnecting whoever is still connected.
    pub async fn drop(self) -> anyhow::Result<()> {
        let admin = Database::connect(pg_admin_url()).await?;
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

/// An order for `source` with the given system presets, delivered to the default place.
pub fn order(source: &Path, presets: &[&str]) -> pb::Order {
    let origin = url::Url::from_file_path(source).expect("absolute path");
    pb::Order {
        origin: origin.to_string(),
        outputs: presets
            .iter()
            .enumerate()
            .map(|(i, preset)| pb::OutputSpec {
                label: format!("out{i}"),
                filename: format!("out{i}.mp4"),
                profile: Some(pb::output_spec::Profile::Preset((*preset).into())),
                reference: String::new(),
            })
            .collect(),
        ..Default::default()
    }
}

pub fn submit_request(order: pb::Order) -> pb::SubmitJobRequest {
    pb::SubmitJobRequest {
        company_id: COMPANY.into(),
        order: Some(order),
        idempotency_key: String::new(),
    }
}

/// Submits `order` and opens its event stream from the first event.
pub async fn submit_and_watch(
    client: &mut Client,
    order: pb::Order,
) -> anyhow::Result<(pb::Job, tonic::Streaming<pb::JobEvent>)> {
    let job = client.submit_job(submit_request(order)).await?.into_inner();
    let events = client
        .watch_job(pb::WatchJobRequest {
            company_id: COMPANY.into(),
            job_id: job.id.clone(),
            after_sequence: 0,
        })
        .await?
        .into_inner();
    Ok((job, events))
}

pub fn timestamp(ts: Option<&prost_types::Timestamp>) -> chrono::DateTime<chrono::Utc> {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .unwrap_or_default()
}
