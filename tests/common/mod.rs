//! Test harness: the real app on port 0 with its own database (a fresh SQLite file, or a
//! fresh database on the machine's PostgreSQL), and a real gRPC client.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tempfile::TempDir;
use transcoder::admin::NewCompany;
use transcoder::app::RunningApp;
pub use transcoder::client::Client;
use transcoder::config::Settings;
use transcoder::proto as pb;
use transcoder::test_support::clip::{ClipSpec, generate_clip};

/// The company every test acts as unless it says otherwise.
pub const COMPANY: &str = "acme";

pub use pb::job_event::Kind;

pub mod peers;
pub mod procs;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body against each backend.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body($crate::common::Backend::Postgres).await;
            }
        }
    };
}

pub use transcoder::test_support::pg::PgDatabase;

/// A fresh PostgreSQL database for one test (dropped with it), and its URL.
async fn pg_database() -> (PgDatabase, String) {
    let db = PgDatabase::create("transcoder_test")
        .await
        .expect("PostgreSQL must run on 127.0.0.1:5432 (make postgres)");
    let url = db.url().to_owned();
    (db, url)
}

/// A fresh PostgreSQL database with nothing in it (not even migrations), dropped with
/// the value: for tests that start an app without migrating, or run `transcoder
/// migrate` against it.
pub struct EmptyPgDatabase {
    _db: PgDatabase,
    pub url: String,
}

pub async fn empty_pg_database() -> EmptyPgDatabase {
    let (db, url) = pg_database().await;
    EmptyPgDatabase { _db: db, url }
}

pub struct TestApp {
    pub app: Option<RunningApp>,
    /// Authenticated as [`COMPANY`].
    pub client: Client,
    /// [`COMPANY`]'s API token.
    pub token: String,
    pub data_dir: TempDir,
    pub backend: Backend,
    settings: Settings,
    pg: Option<PgDatabase>,
}

pub type Configure = Box<dyn FnOnce(&mut Settings) + Send>;

pub struct AppOptions {
    pub workers: usize,
    pub paused: bool,
    /// Last word on the settings (peers' addresses, limits, schedules).
    pub configure: Option<Configure>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            paused: false,
            configure: None,
        }
    }
}

impl AppOptions {
    pub fn configured(configure: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        Self {
            configure: Some(Box::new(configure)),
            ..Self::default()
        }
    }
}

/// The app with claiming paused: jobs stay queued (API tests).
pub async fn spawn_paused(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            paused: true,
            ..AppOptions::default()
        },
    )
    .await
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, AppOptions::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: AppOptions) -> TestApp {
    // The app's warnings (RUST_LOG to change) go to the test's captured output: a
    // failing test shows them.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,sqlx=error".into()),
        )
        .with_test_writer()
        .try_init();
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: data_dir.path().to_owned(),
        ..Settings::default()
    };
    settings.server.grpc_addr = ([127, 0, 0, 1], 0).into();
    settings.server.http_addr = ([127, 0, 0, 1], 0).into();
    settings.storage.allowed_roots = vec![media_dir().to_owned()];
    settings.workers.concurrency = options.workers;
    settings.workers.paused = options.paused;
    settings.workers.poll_interval_ms = 200;
    settings.limits.progress_interval_ms = 100;
    // Tests that stop an app mid-job should not wait out the production drain.
    settings.workers.drain_grace_seconds = 1;
    // Retries and progress as fast as they come (tests/progress.rs checks the cap).
    settings.workers.retry_backoff_base_seconds = 0.1;
    settings.workers.progress_min_interval_ms = 0;
    if let Some(configure) = options.configure {
        configure(&mut settings);
    }
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let (db, url) = pg_database().await;
            settings.database.url = Some(url);
            Some(db)
        }
    };
    let app = RunningApp::start(settings.clone())
        .await
        .expect("app starts");
    let token = make_company(&app, COMPANY, false).await;
    let client = connect(&app, &token).await;
    TestApp {
        app: Some(app),
        client,
        token,
        data_dir,
        backend,
        settings,
        pg,
    }
}

/// Submits `order` as the test company through `client` (any server's).
pub async fn submit_with(client: &Client, order: pb::Order) -> Result<pb::Job, tonic::Status> {
    client
        .clone()
        .submit_job(pb::SubmitJobRequest {
            company_id: COMPANY.into(),
            order: Some(order),
            idempotency_key: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Creates a company (default rate limit) and returns a new API token of it.
pub async fn make_company(app: &RunningApp, slug: &str, priority_transcoding: bool) -> String {
    app.admin
        .create_company(NewCompany {
            slug: slug.into(),
            priority_transcoding,
            ..NewCompany::default()
        })
        .await
        .expect("company created");
    app.admin
        .create_token(slug, Some("tests"))
        .await
        .expect("token created")
        .1
}

/// A gRPC client of `app` sending `token`.
pub async fn connect(app: &RunningApp, token: &str) -> Client {
    let grpc = app.grpc_addr.unwrap();
    transcoder::client::connect(&format!("http://{grpc}"), token)
        .await
        .expect("gRPC connects")
}

impl TestApp {
    pub async fn shutdown(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        drop(self.pg.take());
    }

    /// Stops the app and starts a new one on the same data dir and database, as a
    /// process restart would.
    pub async fn restart(&mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        let app = RunningApp::start(self.settings.clone())
            .await
            .expect("app restarts");
        self.client = connect(&app, &self.token).await;
        self.app = Some(app);
    }

    /// Starts another instance on the same data dir and database with `role`, as a
    /// separate pod would run (an API-only app beside a worker-only one, say).
    pub async fn start_sibling(&self, role: transcoder::config::Role) -> RunningApp {
        let mut settings = self.settings.clone();
        settings.server.role = role;
        RunningApp::start(settings).await.expect("sibling starts")
    }

    pub fn app(&self) -> &RunningApp {
        self.app.as_ref().unwrap()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A client of another company, made for the occasion.
    pub async fn client_of(&self, slug: &str) -> Client {
        let token = make_company(self.app(), slug, false).await;
        connect(self.app(), &token).await
    }

    pub async fn submit(&self, order: pb::Order) -> Result<pb::Job, tonic::Status> {
        submit_with(&self.client, order).await
    }

    /// Submits an order as-is, for origins that are not local files.
    pub async fn submit_uri(&self, origin: &str, outputs: Vec<pb::OutputSpec>) -> pb::Job {
        self.submit(pb::Order {
            origin: origin.into(),
            outputs,
            ..Default::default()
        })
        .await
        .unwrap()
    }

    /// Every event of the job from `after`, until the terminal one.
    pub async fn watch(&self, job_id: &str, after: u64) -> Vec<pb::JobEvent> {
        let mut stream = self
            .client
            .clone()
            .watch_job(pb::WatchJobRequest {
                company_id: COMPANY.into(),
                job_id: job_id.into(),
                after_sequence: after,
            })
            .await
            .unwrap()
            .into_inner();
        let mut events = Vec::new();
        while let Some(event) = stream.message().await.unwrap() {
            events.push(event);
        }
        events
    }

    /// Watches until the job ends, then returns it.
    pub async fn finish(&self, job_id: &str) -> pb::Job {
        let events = self.watch(job_id, 0).await;
        assert!(matches!(
            events.last().and_then(|e| e.kind.as_ref()),
            Some(Kind::JobFinished(_))
        ));
        self.get(job_id).await
    }

    pub async fn get(&self, job_id: &str) -> pb::Job {
        self.client
            .clone()
            .get_job(pb::GetJobRequest {
                company_id: COMPANY.into(),
                job_id: job_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }
}

/// Generated media, shared by the tests of this binary (and kept between runs under
/// cargo's target tmp dir, so each clip is generated once per machine).
pub fn media_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("transcoder-media-v1");
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    })
}

/// Makes `name` once: written beside its final name, then renamed, so a crash mid-way
/// never leaves a broken clip behind for later runs.
fn generated(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let path = media_dir().join(name);
    if !path.exists() {
        let partial = media_dir().join(format!("partial-{}-{name}", std::process::id()));
        make(&partial);
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

/// A clip generated once per test media dir (tests of one binary share it safely).
pub fn generated_clip(name: &str, spec: &ClipSpec) -> PathBuf {
    generated(name, |partial| generate_clip(partial, spec).unwrap())
}

/// A 5 s 640x360 30 fps clip with audio.
pub fn clip_5s() -> PathBuf {
    generated("clip-5s.mp4", |p| {
        generate_clip(p, &ClipSpec::default()).unwrap()
    })
}

/// A 2 s 1280x720 clip with audio: big enough for a ladder to downscale in steps.
pub fn clip_2s_720p() -> PathBuf {
    generated("clip-2s-720p.mp4", |p| {
        generate_clip(
            p,
            &ClipSpec {
                seconds: 2,
                width: 1280,
                height: 720,
                ..ClipSpec::default()
            },
        )
        .unwrap()
    })
}

/// A 5 s 640x360 clip without audio.
pub fn clip_5s_silent() -> PathBuf {
    generated("clip-5s-silent.mp4", |p| {
        generate_clip(
            p,
            &ClipSpec {
                audio: false,
                ..ClipSpec::default()
            },
        )
        .unwrap()
    })
}

/// Random bytes with an .mp4 name.
pub fn random_bytes() -> PathBuf {
    generated("random.mp4", |p| {
        let mut bytes = vec![0u8; 256 * 1024];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        std::fs::write(p, bytes).unwrap();
    })
}

/// The first half of an MP4 whose index sits at the end: no index at all.
pub fn truncated_mp4() -> PathBuf {
    generated("truncated.mp4", |p| {
        let full = p.with_extension("full");
        generate_clip(
            &full,
            &ClipSpec {
                faststart: false,
                ..ClipSpec::default()
            },
        )
        .unwrap();
        let bytes = std::fs::read(&full).unwrap();
        std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
        std::fs::remove_file(&full).unwrap();
    })
}

/// The progress ticks of one phase, in order.
pub fn progress_in(events: &[pb::JobEvent], phase: pb::JobPhase) -> Vec<pb::Progress> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(Kind::Progress(p)) if p.phase == phase as i32 => Some(p.clone()),
            _ => None,
        })
        .collect()
}

pub fn file_uri(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

pub fn output(filename: &str, preset: &str) -> pb::OutputSpec {
    pb::OutputSpec {
        label: String::new(),
        filename: filename.into(),
        profile: Some(pb::output_spec::Profile::Preset(preset.into())),
        reference: String::new(),
    }
}

pub fn order(origin: &Path, outputs: Vec<pb::OutputSpec>) -> pb::Order {
    pb::Order {
        origin: file_uri(origin),
        outputs,
        ..Default::default()
    }
}

/// A company profile to save: H.264 + AAC in MP4 inside `width` x `height`.
pub fn h264_profile(description: &str, width: u32, height: u32) -> pb::Profile {
    pb::Profile {
        description: description.into(),
        container: "mp4".into(),
        video: Some(pb::VideoSettings {
            codec: "h264".into(),
            width,
            height,
            bitrate_kbps: 500,
            codec_profile: "high".into(),
            keyframe_interval_seconds: 1.0,
            ..Default::default()
        }),
        audio: Some(pb::AudioSettings {
            codec: "aac".into(),
            bitrate_kbps: 96,
            channels: 2,
            sample_rate: 48_000,
        }),
        restrict_bitrate: false,
        ..Default::default()
    }
}

/// The fields a refusal's BadRequest details name, in order.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .expect("BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// CreateProfile for the client's own company.
pub async fn create_profile(
    client: &mut Client,
    p: pb::Profile,
) -> Result<pb::Profile, tonic::Status> {
    client
        .create_profile(pb::CreateProfileRequest {
            company_id: String::new(),
            profile: Some(p),
        })
        .await
        .map(|r| r.into_inner())
}
