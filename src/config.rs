//! Layered settings: built-in defaults -> TOML file -> `TRANSCODER__SECTION__KEY`
//! environment variables (and `DATABASE_URL`) -> command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// API servers and workers in one process.
    All,
    /// gRPC and HTTP servers only.
    Api,
    /// Workers only (plus the HTTP health endpoint).
    Worker,
}

impl Role {
    pub fn runs_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }
    pub fn runs_workers(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    /// Holds the SQLite database, work directories and default outputs.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub workers: WorkerSettings,
    pub storage: StorageSettings,
    pub limits: Limits,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSettings {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://...` or `postgres://...`; empty means SQLite under the data dir.
    pub url: Option<String>,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// Jobs run at once by this process; 0 picks one from the core count.
    pub concurrency: usize,
    /// Threads per video encoder; 0 splits the cores between concurrent jobs.
    pub encoder_threads: u32,
    pub lease_seconds: u64,
    pub heartbeat_seconds: u64,
    /// How often an idle worker looks for work submitted to other processes.
    pub poll_interval_ms: u64,
    /// Attempts before a retryable failure becomes final.
    pub max_attempts: u32,
    /// Start with claiming paused (operators and benchmarks).
    pub paused: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageSettings {
    /// Directories, besides the data dir, that `file://` origins and destinations may use.
    pub allowed_roots: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limits {
    pub max_outputs: usize,
    pub max_source_bytes: u64,
    pub max_duration_seconds: f64,
    pub max_pixels: u64,
    /// A pipeline that makes no progress for this long is stopped.
    pub stall_timeout_seconds: u64,
    pub probe_timeout_seconds: u64,
    pub progress_interval_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings {
                grpc_addr: ([0, 0, 0, 0], 50051).into(),
                http_addr: ([0, 0, 0, 0], 8080).into(),
                role: Role::All,
            },
            data_dir: PathBuf::from("data"),
            database: DatabaseSettings {
                url: None,
                max_connections: 16,
            },
            workers: WorkerSettings {
                concurrency: 0,
                encoder_threads: 0,
                lease_seconds: 30,
                heartbeat_seconds: 10,
                poll_interval_ms: 1000,
                max_attempts: 3,
                paused: false,
            },
            storage: StorageSettings {
                allowed_roots: Vec::new(),
            },
            limits: Limits {
                max_outputs: 16,
                max_source_bytes: 20 * 1024 * 1024 * 1024,
                max_duration_seconds: 6.0 * 3600.0,
                max_pixels: 4096 * 2304,
                stall_timeout_seconds: 60,
                probe_timeout_seconds: 30,
                progress_interval_ms: 500,
            },
        }
    }
}

impl Settings {
    /// Defaults, then the TOML file if given, then the environment.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            anyhow::ensure!(path.exists(), "config file {} not found", path.display());
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("TRANSCODER__").split("__"));
        let mut settings: Settings = figment.extract()?;
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            settings.database.url = Some(url);
        }
        Ok(settings)
    }

    /// The database URL in force: the configured one, or SQLite under the data dir.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("transcoder.db").display()
            ),
        }
    }

    /// Concurrent jobs for this process: configured, or half the cores (at least one),
    /// since every job already runs one encoder thread pool per output.
    pub fn worker_concurrency(&self) -> usize {
        if self.workers.concurrency > 0 {
            return self.workers.concurrency;
        }
        (available_cores() / 2).max(1)
    }

    /// Threads per encoder so that concurrent jobs share the cores instead of fighting.
    pub fn encoder_threads(&self) -> u32 {
        if self.workers.encoder_threads > 0 {
            return self.workers.encoder_threads;
        }
        (available_cores() / self.worker_concurrency()).max(1) as u32
    }
}

pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
