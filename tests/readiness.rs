//! Migrations as a deploy step and readiness: an app started without migrating stays
//! out of traffic (`/readyz` 503, gRPC health NOT_SERVING) until `transcoder migrate`
//! has run, and migrators started together on one database all succeed, each migration
//! applied once.

mod common;

use common::Backend;
use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::Command;
use tonic_health::pb::health_check_response::ServingStatus;
use transcoder::app::RunningApp;
use transcoder::config::Settings;
use transcoder::persistence::migrations::Migrator;

const WAIT: Duration = Duration::from_secs(30);
const HEALTH_SERVICES: [&str; 2] = ["", "transcoder.v1.TranscoderService"];

/// Settings for an app on `url` that leaves the schema to `transcoder migrate`.
fn unmigrated_settings(data_dir: &Path, url: &str) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.to_owned(),
        ..Settings::default()
    };
    settings.server.grpc_addr = ([127, 0, 0, 1], 0).into();
    settings.server.http_addr = ([127, 0, 0, 1], 0).into();
    settings.database.url = Some(url.to_owned());
    settings.database.migrate_on_start = false;
    settings.workers.concurrency = 1;
    // No tables yet: claiming would only fail until the migrations run.
    settings.workers.paused = true;
    settings
}

/// `GET /readyz` without any token: status and body.
async fn readyz(app: &RunningApp) -> (u16, String) {
    let response = reqwest::get(format!("http://{}/readyz", app.http_addr))
        .await
        .expect("/readyz answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn health_statuses(app: &RunningApp) -> Vec<ServingStatus> {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr.unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let mut statuses = Vec::new();
    for service in HEALTH_SERVICES {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        statuses.push(ServingStatus::try_from(answer.status).unwrap());
    }
    statuses
}

/// Polls `/readyz` until it answers `status`, or fails after [`WAIT`]: the state is
/// refreshed in the background, every couple of seconds.
async fn wait_for_readyz(app: &RunningApp, status: u16) -> String {
    let started = tokio::time::Instant::now();
    loop {
        let (now, body) = readyz(app).await;
        if now == status {
            return body;
        }
        assert!(
            started.elapsed() < WAIT,
            "/readyz still {now} ({body}), waiting for {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The not-ready reason in a 503 body, after checking its shape.
fn not_ready_reason(body: &str) -> String {
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(body["status"], "not_ready", "{body}");
    body["reason"].as_str().expect("a reason").to_owned()
}

/// Starts `count` `transcoder migrate` processes at once, then waits for all of them.
async fn migrate_concurrently(count: usize, configure: impl Fn(&mut Command)) -> Vec<Output> {
    let children: Vec<_> = (0..count)
        .map(|_| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_transcoder"));
            command
                .arg("migrate")
                .env_remove("DATABASE_URL")
                .env_remove("TRANSCODER__DATABASE__URL")
                .env_remove("TRANSCODER_CONFIG")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            configure(&mut command);
            command.spawn().expect("the binary runs")
        })
        .collect();
    let mut outputs = Vec::new();
    for child in children {
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("migrate finishes")
            .unwrap();
        outputs.push(output);
    }
    outputs
}

/// How many migrations a successful `transcoder migrate` says it applied.
fn applied(output: &Output) -> usize {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "migrate failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let words: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"applied"), "{stdout}");
    words[1].parse().expect("a count")
}

fn migration_names() -> Vec<String> {
    let mut names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    names.sort();
    names
}

/// Every row of seaql_migrations, in version order.
async fn recorded_migrations(url: &str) -> Vec<String> {
    let db = Database::connect(url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await
        .unwrap();
    let versions = rows
        .iter()
        .map(|row| row.try_get::<String>("", "version").unwrap())
        .collect();
    db.close().await.unwrap();
    versions
}

/// All migrators succeed; exactly one applied everything, the others found it done.
fn assert_migrated_once(outputs: &[Output]) {
    let counts: Vec<usize> = outputs.iter().map(applied).collect();
    let total = Migrator::migrations().len();
    assert_eq!(counts.iter().sum::<usize>(), total, "{counts:?}");
    assert_eq!(counts.iter().filter(|&&n| n > 0).count(), 1, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmigrated_app_turns_ready_after_transcoder_migrate() {
    let db = common::empty_pg_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let app = RunningApp::start(unmigrated_settings(data_dir.path(), &db.url))
        .await
        .expect("the app starts without migrating");

    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    let pending = Migrator::migrations().len();
    assert_eq!(
        not_ready_reason(&body),
        format!("{pending} migrations pending")
    );
    assert_eq!(
        health_statuses(&app).await,
        [ServingStatus::NotServing, ServingStatus::NotServing]
    );
    // Still alive: liveness does not depend on the schema.
    let live = reqwest::get(format!("http://{}/healthz", app.http_addr))
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    let outputs = migrate_concurrently(1, |command| {
        command.env("DATABASE_URL", &db.url);
    })
    .await;
    assert_eq!(applied(&outputs[0]), pending);

    assert_eq!(wait_for_readyz(&app, 200).await, "ready\n");
    assert_eq!(
        health_statuses(&app).await,
        [ServingStatus::Serving, ServingStatus::Serving]
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrators_on_postgres_apply_each_migration_once() {
    let db = common::empty_pg_database().await;
    let outputs = migrate_concurrently(3, |command| {
        command.env("DATABASE_URL", &db.url);
    })
    .await;
    assert_migrated_once(&outputs);
    assert_eq!(recorded_migrations(&db.url).await, migration_names());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrators_on_sqlite_apply_each_migration_once() {
    let data_dir = tempfile::tempdir().unwrap();
    let outputs = migrate_concurrently(3, |command| {
        command.arg("--data-dir").arg(data_dir.path());
    })
    .await;
    assert_migrated_once(&outputs);
    let url = format!(
        "sqlite://{}",
        data_dir.path().join("transcoder.db").display()
    );
    assert_eq!(recorded_migrations(&url).await, migration_names());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_without_a_database_says_which_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = migrate_concurrently(1, |command| {
        command.current_dir(dir.path());
    })
    .await;
    assert!(!outputs[0].status.success());
    let stderr = String::from_utf8_lossy(&outputs[0].stderr);
    assert!(stderr.contains("--data-dir"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "created a database anyway"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_open_while_the_api_wants_a_token() {
    let app = common::spawn_paused(Backend::Sqlite).await;
    let base = format!("http://{}", app.app().http_addr);
    let http = reqwest::Client::new();
    for token in [None, Some("not-a-token")] {
        let mut request = http.get(format!("{base}/readyz"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "token {token:?}");
        assert_eq!(response.text().await.unwrap(), "ready\n");
    }
    let me = http.get(format!("{base}/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 401, "the auth layer is in front of the API");
    app.shutdown().await;
}

/// The gRPC health status of one service name.
async fn health_of(app: &RunningApp, service: &str) -> ServingStatus {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr.unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let answer = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner();
    ServingStatus::try_from(answer.status).unwrap()
}

/// Cuts the app off its database (as an outage or a failover would): new connections
/// refused, the open ones terminated. `allow` lets them in again.
async fn set_database_reachable(db_url: &str, allow: bool) {
    let (server, name) = db_url.rsplit_once('/').unwrap();
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
        .await
        .unwrap();
    if !allow {
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ))
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_database_makes_the_app_not_ready_until_it_is_back() {
    let db = common::empty_pg_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = unmigrated_settings(data_dir.path(), &db.url);
    settings.database.migrate_on_start = true;
    let app = RunningApp::start(settings).await.expect("the app starts");
    assert_eq!(readyz(&app).await, (200, "ready\n".to_owned()));

    set_database_reachable(&db.url, false).await;
    let reason = not_ready_reason(&wait_for_readyz(&app, 503).await);
    assert!(reason.starts_with("database unreachable"), "{reason}");
    assert_eq!(
        health_statuses(&app).await,
        [ServingStatus::NotServing, ServingStatus::NotServing]
    );
    // Alive all the while: liveness does not follow the database.
    assert_eq!(health_of(&app, "liveness").await, ServingStatus::Serving);
    let live = reqwest::get(format!("http://{}/healthz", app.http_addr))
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    set_database_reachable(&db.url, true).await;
    assert_eq!(wait_for_readyz(&app, 200).await, "ready\n");
    assert_eq!(
        health_statuses(&app).await,
        [ServingStatus::Serving, ServingStatus::Serving]
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wedged_worker_makes_the_app_not_ready_until_it_moves_again() {
    let db = common::empty_pg_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = unmigrated_settings(data_dir.path(), &db.url);
    settings.database.migrate_on_start = true;
    settings.workers.paused = false;
    settings.workers.poll_interval_ms = 100;
    settings.workers.wedged_after_seconds = 2;
    let app = RunningApp::start(settings).await.expect("the app starts");
    assert_eq!(wait_for_readyz(&app, 200).await, "ready\n");

    // A transaction holding the jobs table (a runaway migration, a stuck batch job): the
    // worker's next claim waits on it, while the database itself answers.
    let blocker = Database::connect(&db.url).await.unwrap();
    let txn = blocker.begin().await.unwrap();
    txn.execute_unprepared("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let reason = not_ready_reason(&wait_for_readyz(&app, 503).await);
    assert!(reason.contains("1 worker(s) wedged: worker-"), "{reason}");
    assert!(reason.contains("(limit 2s)"), "{reason}");
    assert_eq!(
        health_statuses(&app).await,
        [ServingStatus::NotServing, ServingStatus::NotServing]
    );

    txn.rollback().await.unwrap();
    assert_eq!(wait_for_readyz(&app, 200).await, "ready\n");
    blocker.close().await.unwrap();
    app.shutdown().await;
}

/// Connections to `db_url`'s database other than the asking one.
async fn connections_to(db_url: &str) -> i64 {
    let (server, name) = db_url.rsplit_once('/').unwrap();
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    let row = admin
        .query_one_raw(Statement::from_string(
            admin.get_database_backend(),
            format!("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{name}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    admin.close().await.unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// A start that fails half-way (here the HTTP port is taken, after the workers, the hub
/// and the LISTEN task were spawned) leaves nothing running: every task it spawned stops,
/// and the database sees its connections close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_fails_half_way_leaves_no_task_behind() {
    let db = common::empty_pg_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = unmigrated_settings(data_dir.path(), &db.url);
    settings.database.migrate_on_start = true;
    settings.workers.paused = false;
    settings.server.http_addr = taken.local_addr().unwrap();

    let error = match RunningApp::start(settings).await {
        Ok(_) => panic!("the HTTP port is taken: the start must fail"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("binding HTTP"), "{error}");

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let open = connections_to(&db.url).await;
        if open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} connection(s) still open {WAIT:?} after the failed start: its tasks run on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
