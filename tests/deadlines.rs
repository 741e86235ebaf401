//! Deadlines, watchdogs and retries against real components: raw TCP origins that
//! trickle or stop mid-body, the job deadline, the pipeline watchdog, and a failed job
//! withdrawing what it had delivered.

mod common;

use common::{AppOptions, Backend, TestApp, clip_5s, media_dir, output, spawn_app_with};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use transcoder::config::Settings;
use transcoder::error::ErrorCode;
use transcoder::proto as pb;

const PRESET: &str = "System preset: Generic 360p";
const JOB_WAIT: Duration = Duration::from_secs(120);

async fn app_with(configure: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(move |s| {
            s.egress.allow = vec!["127.0.0.1".into()];
            s.workers.max_attempts = 3;
            configure(s);
        }),
    )
    .await
}

async fn run(app: &TestApp, order: pb::Order) -> pb::Job {
    let job = app.submit(order).await.unwrap();
    tokio::time::timeout(JOB_WAIT, app.finish(&job.id))
        .await
        .expect("the job ends in time")
}

fn order_uri(origin: &str) -> pb::Order {
    pb::Order {
        origin: origin.into(),
        outputs: vec![output("a.mp4", PRESET)],
        ..Default::default()
    }
}

/// How a raw origin answers its n-th connection (from 0).
#[derive(Clone, Copy)]
enum Answer {
    /// Declares a large body, then sends ten bytes every 100 ms while the client listens.
    Trickle,
    /// Declares the whole clip, sends its first kilobyte, then nothing (the connection
    /// stays open).
    StopMidBody,
    /// The whole clip.
    Whole,
}

/// A one-route HTTP origin on a plain TCP listener, counting its connections.
struct RawOrigin {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl RawOrigin {
    async fn start(answers: fn(usize) -> Answer) -> Self {
        let body = Arc::new(std::fs::read(clip_5s()).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(answer(stream, answers(n), body.clone()));
            }
        });
        Self { addr, connections }
    }

    fn url(&self) -> String {
        format!("http://{}/clip.mp4", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn answer(mut stream: TcpStream, answer: Answer, body: Arc<Vec<u8>>) {
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request).await;
    let declared = match answer {
        Answer::Trickle => 10_000_000,
        Answer::StopMidBody | Answer::Whole => body.len(),
    };
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    match answer {
        Answer::Trickle => {
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            loop {
                ticks.tick().await;
                if stream.write_all(&[0u8; 10]).await.is_err() {
                    return;
                }
            }
        }
        Answer::StopMidBody => {
            let _ = stream.write_all(&body[..1024]).await;
            // Hold the connection open until the client gives up on it.
            let _ = stream.read(&mut request).await;
        }
        Answer::Whole => {
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_origin_is_cut_off_and_retried() {
    let origin = RawOrigin::start(|_| Answer::Trickle).await;
    let app = app_with(|s| {
        s.workers.max_attempts = 2;
        // 100 bytes/s arrive: well under the minimum, and never silent long enough
        // for the (default, 30 s) read timeout.
        s.limits.origin_min_bytes_per_second = 10_000;
        s.limits.origin_rate_window_seconds = 1;
    })
    .await;
    let started = Instant::now();
    let done = run(&app, order_uri(&origin.url())).await;
    let took = started.elapsed();
    eprintln!(
        "trickling origin: failed after {took:?}, {} attempts",
        done.attempts
    );
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.expect("a failed job says why");
    assert_eq!(error.code, "TIMEOUT", "{error:?}");
    assert!(
        error
            .message
            .contains("limits.origin_min_bytes_per_second = 10000"),
        "{error:?}"
    );
    assert!(error.retryable, "the origin is at fault, not the file");
    assert_eq!(done.attempts, 2, "an origin failure is retried");
    assert_eq!(origin.connections(), 2);
    // Two windows of a second each, plus claiming and probing nothing: far below the
    // read timeout it would otherwise have taken.
    assert!(took < Duration::from_secs(15), "{took:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_stops_mid_body_is_retried_and_the_retry_succeeds() {
    let origin = RawOrigin::start(|n| match n {
        0 => Answer::StopMidBody,
        _ => Answer::Whole,
    })
    .await;
    let app = app_with(|s| s.egress.read_timeout_seconds = 1).await;
    let done = run(&app, order_uri(&origin.url())).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    assert_eq!(done.attempts, 2);
    assert_eq!(origin.connections(), 2);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_pipeline_fails_on_the_first_attempt() {
    // A watchdog of 0 s fires at its first look, before the pipeline has encoded
    // anything: the run stops as a stall would, through the same path.
    let app = app_with(|s| s.limits.stall_timeout_seconds = 0).await;
    let done = run(
        &app,
        common::order(&clip_5s(), vec![output("a.mp4", PRESET)]),
    )
    .await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.expect("a failed job says why");
    assert_eq!(error.code, "TIMEOUT", "{error:?}");
    assert!(error.message.contains("no progress"), "{error:?}");
    assert!(!error.retryable, "the same file would stall again");
    assert_eq!(done.attempts, 1);
    app.shutdown().await;
}

/// The regular files under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

fn destination(dir: &std::path::Path) -> pb::Destination {
    pb::Destination {
        uri: common::file_uri(dir),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_deadline_fails_without_retry_and_leaves_nothing() {
    let out = tempfile::tempdir_in(media_dir()).unwrap();
    let app = app_with(|s| {
        // 5 s of source x 0.01 = 50 ms: no transcode is that quick.
        s.limits.job_deadline_floor_seconds = 0;
        s.limits.job_deadline_factor = 0.01;
    })
    .await;
    let mut order = common::order(&clip_5s(), vec![output("a.mp4", PRESET)]);
    order.destinations = vec![destination(out.path())];
    let started = Instant::now();
    let done = run(&app, order).await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.expect("a failed job says why");
    assert_eq!(error.code, "TIMEOUT", "{error:?}");
    assert!(
        error.message.contains("limits.job_deadline_factor = 0.01"),
        "{error:?}"
    );
    assert!(!error.retryable);
    assert_eq!(done.attempts, 1);
    // Stopped at the deadline (plus the grace a stopping pipeline gets at most), not
    // after the whole transcode.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(files_under(out.path()), Vec::<std::path::PathBuf>::new());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_withdraws_what_it_had_delivered() {
    let s3 = common::peers::S3Peer::start().await;
    s3.create_bucket("media").await;
    let holder = tempfile::tempdir_in(media_dir()).unwrap();
    // A destination "directory" that is a file: delivering there fails.
    let blocked = holder.path().join("not-a-dir");
    std::fs::write(&blocked, b"in the way").unwrap();
    let endpoint = s3.endpoint();
    let app = app_with(move |s| {
        common::peers::use_s3(s, &endpoint);
        s.workers.max_attempts = 1;
    })
    .await;
    let mut order = common::order(&clip_5s(), vec![output("a.mp4", PRESET)]);
    let kept = tempfile::tempdir_in(media_dir()).unwrap();
    let bucket = pb::Destination {
        uri: "s3://media/out/".into(),
        ..Default::default()
    };
    order.destinations = vec![destination(kept.path()), bucket, destination(&blocked)];
    let done = run(&app, order).await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.expect("a failed job says why");
    assert_eq!(error.code, "DESTINATION_FAILED", "{error:?}");
    // The first two destinations had the output before the third failed; it is gone
    // from both again.
    assert_eq!(files_under(kept.path()), Vec::<std::path::PathBuf>::new());
    assert!(
        s3.get("media", "out/a.mp4").await.is_none(),
        "the object is deleted"
    );
    assert_eq!(done.outputs[0].state, pb::OutputState::Failed as i32);
    assert!(done.outputs[0].urls.is_empty());
    let events = app.watch(&done.id, 0).await;
    let uploading = common::progress_in(&events, pb::JobPhase::Uploading);
    assert!(
        uploading.len() >= 2,
        "both destinations were written before the third failed: {uploading:?}"
    );
    app.shutdown().await;
}

/// A store that accepts connections and never answers.
async fn silent_listener() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                // Read the request and whatever follows, answering nothing.
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_s3_store_times_out_on_both_ways() {
    use transcoder::storage::{Transfer, s3::S3Store};
    let addr = silent_listener().await;
    let mut settings = Settings::default();
    common::peers::use_s3(&mut settings, &format!("http://{addr}"));
    settings.s3.max_attempts = 1;
    settings.s3.read_timeout_seconds = 1;
    settings.s3.operation_timeout_seconds = 2;
    let store = S3Store::from_settings(&settings.s3).await;
    let dir = tempfile::tempdir().unwrap();
    let (source, quiet) = (dir.path().join("source"), Transfer::default());
    let options = transcoder::storage::s3::ObjectOptions::default();

    let started = Instant::now();
    let download = store.download(
        "s3://media/in.mp4",
        "media",
        "in.mp4",
        &source,
        &settings.limits,
        &quiet,
    );
    let error = tokio::time::timeout(Duration::from_secs(30), download)
        .await
        .expect("the S3 timeouts end the download")
        .unwrap_err();
    eprintln!("silent S3 download: failed after {:?}", started.elapsed());
    assert_eq!(error.code, ErrorCode::OriginUnavailable, "{error:?}");
    assert!(error.retryable);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let file = dir.path().join("out.mp4");
    std::fs::write(&file, b"a small output").unwrap();
    let started = Instant::now();
    let upload = store.upload(&file, "media", "out.mp4", &options, &quiet);
    let refused = tokio::time::timeout(Duration::from_secs(30), upload)
        .await
        .expect("the S3 timeouts end the upload");
    assert!(refused.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
