//! Layered settings: built-in defaults -> TOML file -> `TRANSCODER__SECTION__KEY`
//! environment variables (and `DATABASE_URL`) -> command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod secrets;
mod tls;
pub use secrets::{SecretError, secret_file_variables};
pub use tls::TlsSettings;

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
    pub egress: EgressSettings,
    pub s3: S3Settings,
    pub smtp: SmtpSettings,
    pub webhooks: WebhookSettings,
    pub billing: BillingSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSettings {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub role: Role,
    /// TLS on both ports; off (plain text) unless a certificate and key are given.
    #[serde(default)]
    pub tls: TlsSettings,
}

// Debug by hand (config/secrets.rs): the URL carries a password.
#[derive(Clone, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://...` or `postgres://...`; empty means SQLite under the data dir.
    pub url: Option<String>,
    pub max_connections: u32,
    /// Apply pending migrations at start-up (under a lock, so replicas starting together
    /// do not race). Off when a separate `transcoder migrate` step owns the schema.
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// Jobs run at once by this process; 0 picks one from the core count.
    pub concurrency: usize,
    /// Threads per video encoder; 0 splits the cores between concurrent jobs.
    pub encoder_threads: u32,
    /// A claim holds its job this long past the last heartbeat; a dead worker's job is
    /// claimable again after it.
    pub lease_seconds: u64,
    pub heartbeat_seconds: u64,
    /// How often an idle worker looks for work it was not woken for (expired leases,
    /// backoffs that ended, a missed notification).
    pub poll_interval_ms: u64,
    /// Attempts before a retryable failure becomes final. Failures and dead workers
    /// count; a job handed back by a draining worker does not.
    pub max_attempts: u32,
    /// A retryable failure waits `base x 2^(failures - 1)` seconds before it may be
    /// claimed again, at most `retry_backoff_max_seconds`.
    pub retry_backoff_base_seconds: f64,
    pub retry_backoff_max_seconds: f64,
    /// On SIGTERM running jobs get this long to finish; then they are handed back to
    /// the queue (released at once, not left to expire) and the process exits.
    pub drain_grace_seconds: u64,
    /// At most one progress write per job per this many milliseconds.
    pub progress_min_interval_ms: u64,
    /// Start with claiming paused (operators and benchmarks).
    pub paused: bool,
    /// An idle worker loop silent this long is wedged and makes `/readyz` not ready;
    /// 0 means 10 x `poll_interval_ms`, at least 30 s.
    #[serde(default)]
    pub wedged_after_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageSettings {
    /// Directories, besides the data dir, that `file://` origins and destinations may use.
    pub allowed_roots: Vec<PathBuf>,
}

/// Outbound HTTP on a user's behalf (origins, webhooks, postbacks).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EgressSettings {
    /// Exceptions to the SSRF guard: host names, addresses or CIDRs. Accepts a list or
    /// a comma-separated string (`TRANSCODER__EGRESS__ALLOW=127.0.0.1,media.internal`).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub allow: Vec<String>,
    pub connect_timeout_seconds: u64,
    /// Longest wait for the next bytes of a response.
    pub read_timeout_seconds: u64,
}

/// S3 and S3-compatible stores. Endpoint, region and credentials also come from the
/// standard AWS variables and provider chain. Debug by hand: it redacts the keys.
#[derive(Clone, Serialize, Deserialize)]
pub struct S3Settings {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub force_path_style: bool,
    /// Static credentials; unset uses the AWS provider chain (env, profile, IMDS, ...).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Files above this size are uploaded in parts of this size.
    pub part_size_bytes: u64,
    pub upload_concurrency: usize,
    /// Attempts per request, with backoff, on throttling and 5xx answers.
    pub max_attempts: u32,
    /// Longest wait for a connection to the store.
    pub connect_timeout_seconds: u64,
    /// Longest wait for the next bytes of an answer.
    pub read_timeout_seconds: u64,
    /// Longest one request may take, its retries included (a download's body is paced
    /// by `limits.origin_*` instead).
    pub operation_timeout_seconds: u64,
}

// Debug by hand (config/secrets.rs): it redacts the password.
#[derive(Clone, Serialize, Deserialize)]
pub struct SmtpSettings {
    /// e.g. `smtp://127.0.0.1:2525` or `smtps://user:pass@mail.example.com`; unset skips email.
    pub url: Option<String>,
    /// The password for `url`'s user, kept apart from the URL (a secret beside a config
    /// map); folded into `url` when the settings load.
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// Waits before each retry, in seconds; the default spans more than three days.
    pub retry_schedule_seconds: Vec<f64>,
    pub timeout_seconds: u64,
    /// How often the delivery loop looks for due deliveries.
    pub poll_interval_ms: u64,
}

/// What output minutes cost (seed: "Duration of output video in minutes * $0.0389").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BillingSettings {
    /// A decimal, given as a string to keep it exact (`"0.0389"`); a number is accepted
    /// and read by its shortest decimal form. Must not be negative.
    #[serde(
        serialize_with = "rust_decimal::serde::str::serialize",
        deserialize_with = "price"
    )]
    pub price_per_minute: rust_decimal::Decimal,
    pub currency: String,
}

impl BillingSettings {
    pub fn tariff(&self) -> crate::domain::Tariff {
        crate::domain::Tariff {
            price_per_minute: self.price_per_minute,
            currency: self.currency.clone(),
        }
    }
}

// Environment variables reach us as numbers when they look like one
// (`TRANSCODER__BILLING__PRICE_PER_MINUTE=0.05`), so a number is read through its
// shortest decimal form, which is what was typed.
fn price<'de, D: serde::Deserializer<'de>>(d: D) -> Result<rust_decimal::Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(f64),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Text(s) => s.trim().to_owned(),
        Raw::Number(n) => n.to_string(),
    };
    let price: rust_decimal::Decimal = text
        .parse()
        .map_err(|e| serde::de::Error::custom(format!("price_per_minute {text:?}: {e}")))?;
    if price.is_sign_negative() {
        return Err(serde::de::Error::custom(
            "price_per_minute must not be negative",
        ));
    }
    Ok(price)
}

fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        One(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::List(list) => list,
        Raw::One(s) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limits {
    pub max_outputs: usize,
    pub max_source_bytes: u64,
    pub max_duration_seconds: f64,
    /// Width x height of the source's video, at most.
    pub max_pixels: u64,
    /// Streams (video, audio, subtitles, data) in the source, at most.
    pub max_streams: u32,
    /// A job must end within `floor + factor x the source's duration`, counted from the
    /// start of its attempt; past it the job fails with TIMEOUT, not retried.
    pub job_deadline_factor: f64,
    pub job_deadline_floor_seconds: u64,
    /// Downloading a remote source (HTTP or S3) takes at most this long.
    pub origin_deadline_seconds: u64,
    /// A download slower than this, averaged over each `origin_rate_window_seconds`, is
    /// cut off (TIMEOUT, retried): a trickling origin cannot hold a worker for hours.
    pub origin_min_bytes_per_second: u64,
    pub origin_rate_window_seconds: u64,
    /// A pipeline that makes no progress for this long is stopped.
    pub stall_timeout_seconds: u64,
    pub probe_timeout_seconds: u64,
    pub progress_interval_ms: u64,
    /// Default submissions per second per company (a company may have its own); 0 means
    /// no limit. Each API replica counts on its own.
    pub submit_rate_per_second: f64,
    /// How many submissions may come at once before the rate applies.
    pub submit_burst: u32,
    /// REST request bodies above this are refused (413) before they are read whole.
    pub max_request_body_bytes: usize,
    /// How long an idempotency key holds its job: within it, the same key and order
    /// return the first job, and a different order is refused; after it, the key is free.
    pub idempotency_window_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings {
                grpc_addr: ([0, 0, 0, 0], 50051).into(),
                http_addr: ([0, 0, 0, 0], 8080).into(),
                role: Role::All,
                tls: TlsSettings::default(),
            },
            data_dir: PathBuf::from("data"),
            database: DatabaseSettings {
                url: None,
                max_connections: 16,
                migrate_on_start: true,
            },
            workers: WorkerSettings {
                concurrency: 0,
                encoder_threads: 0,
                lease_seconds: 10,
                heartbeat_seconds: 2,
                poll_interval_ms: 1000,
                max_attempts: 3,
                retry_backoff_base_seconds: 5.0,
                retry_backoff_max_seconds: 300.0,
                drain_grace_seconds: 30,
                progress_min_interval_ms: 500,
                paused: false,
                wedged_after_seconds: 0,
            },
            storage: StorageSettings {
                allowed_roots: Vec::new(),
            },
            limits: Limits {
                max_outputs: 16,
                max_source_bytes: 20 * 1024 * 1024 * 1024,
                max_duration_seconds: 6.0 * 3600.0,
                max_pixels: 4096 * 2304,
                max_streams: 32,
                job_deadline_factor: 10.0,
                job_deadline_floor_seconds: 600,
                origin_deadline_seconds: 4 * 3600,
                origin_min_bytes_per_second: 32 * 1024,
                origin_rate_window_seconds: 30,
                stall_timeout_seconds: 60,
                probe_timeout_seconds: 30,
                progress_interval_ms: 500,
                submit_rate_per_second: 50.0,
                submit_burst: 100,
                max_request_body_bytes: 1024 * 1024,
                idempotency_window_seconds: 24 * 3600,
            },
            egress: EgressSettings {
                allow: Vec::new(),
                connect_timeout_seconds: 10,
                read_timeout_seconds: 30,
            },
            s3: S3Settings {
                endpoint_url: None,
                region: None,
                force_path_style: false,
                access_key_id: None,
                secret_access_key: None,
                part_size_bytes: 16 * 1024 * 1024,
                upload_concurrency: 4,
                max_attempts: 5,
                connect_timeout_seconds: 10,
                read_timeout_seconds: 60,
                operation_timeout_seconds: 900,
            },
            smtp: SmtpSettings {
                url: None,
                password: None,
                from: "transcoder@localhost".into(),
            },
            webhooks: WebhookSettings {
                // Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 1 d, 1 d, 1 d.
                retry_schedule_seconds: vec![
                    5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0, 86400.0, 86400.0,
                    86400.0,
                ],
                timeout_seconds: 15,
                poll_interval_ms: 1000,
            },
            billing: BillingSettings {
                price_per_minute: rust_decimal::Decimal::new(389, 4),
                currency: "USD".into(),
            },
        }
    }
}

impl Settings {
    /// Defaults, then the TOML file if given, then the environment. A secret may come
    /// from a file named by `<VAR>_FILE` ([`secret_file_variables`]).
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
        secrets::apply_secret_files(&mut settings, |name| std::env::var(name).ok())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_allow_takes_a_comma_separated_string_or_a_list() {
        let from_env: EgressSettings = serde_json::from_value(serde_json::json!({
            "allow": "127.0.0.1, media.internal,10.0.0.0/8",
            "connect_timeout_seconds": 1,
            "read_timeout_seconds": 1,
        }))
        .unwrap();
        assert_eq!(
            from_env.allow,
            ["127.0.0.1", "media.internal", "10.0.0.0/8"]
        );
        let from_toml: EgressSettings = serde_json::from_value(serde_json::json!({
            "allow": ["a", "b"],
            "connect_timeout_seconds": 1,
            "read_timeout_seconds": 1,
        }))
        .unwrap();
        assert_eq!(from_toml.allow, ["a", "b"]);
    }

    #[test]
    fn billing_price_is_an_exact_decimal_from_text_or_number() {
        assert_eq!(
            Settings::default().billing.price_per_minute.to_string(),
            "0.0389"
        );
        for raw in [serde_json::json!("0.0389"), serde_json::json!(0.0389)] {
            let billing: BillingSettings = serde_json::from_value(serde_json::json!({
                "price_per_minute": raw,
                "currency": "USD",
            }))
            .unwrap();
            assert_eq!(billing.price_per_minute.to_string(), "0.0389");
        }
        let negative = serde_json::from_value::<BillingSettings>(serde_json::json!({
            "price_per_minute": "-1",
            "currency": "USD",
        }));
        assert!(negative.is_err());
    }
}
