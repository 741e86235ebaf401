//! `GET /metrics`: scraped before, during and after a real job, the exposition moves as
//! the job does (submitted, queued, phases timed, bytes counted, finished, queue empty
//! again), and every scrape passes `promtool check metrics` (Debian's `prometheus`
//! package, installed by `make deps`). A worker-only process serves it too.

mod common;

use common::peers::WebhookPeer;
use common::procs::Cluster;
use common::{AppOptions, Backend, clip_5s, order, output, spawn_app_with, spawn_paused};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use transcoder::proto as pb;

const WAIT: Duration = Duration::from_secs(30);

/// One sample: its metric name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scraped exposition, checked by promtool.
struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    /// The sum of the samples of `name` whose labels include `labels` (0 when none).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }
}

/// `GET /metrics` without a token (it is an open path), validated by promtool.
async fn scrape(http_addr: std::net::SocketAddr) -> Scrape {
    let response = reqwest::Client::new()
        .get(format!("http://{http_addr}/metrics"))
        .timeout(WAIT)
        .send()
        .await
        .expect("/metrics answers");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4");
    let text = response.text().await.unwrap();
    promtool_check(&text);
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("unparsable line {line:?}")))
        .collect();
    Scrape { text, samples }
}

/// `name{k="v",...} value`; label values may hold braces and escaped quotes.
fn parse_sample(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        other => other.parse().ok()?,
    };
    let Some((name, mut rest)) = head.split_once('{') else {
        return Some(Sample {
            name: head.to_owned(),
            labels: BTreeMap::new(),
            value,
        });
    };
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches(',');
        if rest == "}" {
            break;
        }
        let (key, after) = rest.split_once("=\"")?;
        let mut chars = after.char_indices();
        let mut label = String::new();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => label.push(chars.next()?.1),
                '"' => break i,
                c => label.push(c),
            }
        };
        labels.insert(key.to_owned(), label);
        rest = &after[end + 1..];
    }
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn promtool() -> PathBuf {
    let path = PathBuf::from("/usr/bin/promtool");
    assert!(
        path.exists(),
        "promtool is missing: `make deps` installs Debian's prometheus package"
    );
    path
}

/// `promtool check metrics` on the text: it parses the exposition and lints it (names,
/// units, help, counter suffixes); any problem fails the test.
fn promtool_check(text: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- exposition ---\n{text}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// Scrapes until `done` holds, or fails after [`WAIT`].
async fn scrape_until(
    http_addr: std::net::SocketAddr,
    what: &str,
    done: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let started = tokio::time::Instant::now();
    loop {
        let now = scrape(http_addr).await;
        if done(&now) {
            return now;
        }
        assert!(
            started.elapsed() < WAIT,
            "{what}: never seen in\n{}",
            now.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SUBMIT: [(&str, &str); 3] = [
    ("service", "transcoder.v1.TranscoderService"),
    ("method", "SubmitJob"),
    ("code", "OK"),
];

async fn a_job_moves_the_metrics(backend: Backend) {
    let app = spawn_paused(backend).await;
    let http = app.app().http_addr;
    let source = clip_5s();
    let before = scrape(http).await;
    assert_eq!(
        before.value("transcoder_queue_depth", &[("priority", "5")]),
        0.0
    );
    assert_eq!(before.value("transcoder_jobs_running", &[]), 0.0);
    let max = app.settings().database.max_connections as f64;
    assert_eq!(before.value("transcoder_db_pool_max_connections", &[]), max);
    assert!(before.value("transcoder_db_pool_connections", &[]) >= 1.0);

    let job = app
        .submit(order(
            &source,
            vec![output("out.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let mut watch = app
        .client
        .clone()
        .watch_job(pb::WatchJobRequest {
            company_id: common::COMPANY.into(),
            job_id: job.id.clone(),
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    // The first event arrives once the server-side stream runs (and counts itself).
    let first = watch.message().await.unwrap().expect("the queued event");
    assert_eq!(first.sequence, 1);
    let queued = scrape(http).await;
    let delta = |after: &Scrape, name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta(&queued, "transcoder_jobs_submitted_total", &[]), 1.0);
    assert_eq!(
        queued.value("transcoder_queue_depth", &[("priority", "5")]),
        1.0
    );
    assert!(queued.value("transcoder_queue_oldest_age_seconds", &[]) >= 0.0);
    assert!(queued.has("transcoder_queue_oldest_age_seconds"));
    assert_eq!(
        delta(&queued, "transcoder_grpc_requests_total", &SUBMIT),
        1.0
    );
    assert_eq!(
        delta(
            &queued,
            "transcoder_grpc_request_duration_seconds_count",
            &SUBMIT
        ),
        1.0
    );
    assert_eq!(queued.value("transcoder_watch_streams_open", &[]), 1.0);

    app.app().workers.resume();
    while let Some(event) = watch.message().await.unwrap() {
        if matches!(event.kind, Some(common::Kind::JobFinished(_))) {
            break;
        }
    }
    drop(watch);
    let finished = app.get(&job.id).await;
    assert_eq!(
        finished.state,
        pb::JobState::Succeeded as i32,
        "{finished:?}"
    );
    let written = url::Url::parse(&finished.outputs[0].urls[0])
        .unwrap()
        .to_file_path()
        .unwrap();
    let written_bytes = std::fs::metadata(&written).unwrap().len() as f64;
    let source_bytes = std::fs::metadata(&source).unwrap().len() as f64;

    // The client has gone: the server side of its stream ends soon after.
    let after = scrape_until(http, "the watch stream closed", |s| {
        s.value("transcoder_watch_streams_open", &[]) == 0.0
    })
    .await;
    let succeeded = [("state", "SUCCEEDED"), ("error_code", "none")];
    assert_eq!(
        delta(&after, "transcoder_jobs_finished_total", &succeeded),
        1.0
    );
    assert_eq!(delta(&after, "transcoder_jobs_submitted_total", &[]), 1.0);
    for phase in ["download", "probe", "transcode", "upload"] {
        let labels = [("phase", phase), ("outcome", "ok")];
        assert_eq!(
            delta(&after, "transcoder_phase_duration_seconds_count", &labels),
            1.0,
            "{phase}"
        );
    }
    let transcode = [("phase", "transcode"), ("outcome", "ok")];
    assert!(delta(&after, "transcoder_phase_duration_seconds_sum", &transcode) > 0.0);
    assert_eq!(
        delta(&after, "transcoder_transcode_realtime_factor_count", &[]),
        1.0
    );
    assert!(delta(&after, "transcoder_transcode_realtime_factor_sum", &[]) > 0.0);
    assert_eq!(delta(&after, "transcoder_encoder_fps_count", &[]), 1.0);
    assert_eq!(
        delta(&after, "transcoder_bytes_in_total", &[]),
        source_bytes
    );
    assert_eq!(
        delta(&after, "transcoder_bytes_out_total", &[]),
        written_bytes
    );
    assert_eq!(
        after.value("transcoder_queue_depth", &[("priority", "5")]),
        0.0
    );
    assert_eq!(after.value("transcoder_queue_oldest_age_seconds", &[]), 0.0);
    assert_eq!(after.value("transcoder_jobs_running", &[]), 0.0);
    // The scrapes themselves, by their route.
    let metrics_route = [("method", "GET"), ("route", "/metrics"), ("status", "200")];
    assert!(delta(&after, "transcoder_http_requests_total", &metrics_route) >= 2.0);
    app.shutdown().await;
}

on_both_backends!(a_job_moves_the_metrics_on, super::a_job_moves_the_metrics);

/// Webhook attempts are counted by outcome: a 500 is retried, then a 204 delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_counted_by_outcome() {
    let receiver = WebhookPeer::start(vec![500, 204]).await;
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(|s| {
            s.egress.allow = vec!["127.0.0.1".into()];
            s.webhooks.retry_schedule_seconds = vec![0.05, 0.05];
            s.webhooks.poll_interval_ms = 50;
        }),
    )
    .await;
    let http = app.app().http_addr;
    let mut with_webhook = order(
        &clip_5s(),
        vec![output("out.mp4", "System preset: Generic 360p")],
    );
    with_webhook.notifications = vec![pb::Notification {
        target: Some(pb::notification::Target::WebhookUrl(receiver.url())),
    }];
    let job = app.submit(with_webhook).await.unwrap();
    assert_eq!(
        app.finish(&job.id).await.state,
        pb::JobState::Succeeded as i32
    );
    let webhook = |outcome| [("channel", "webhook"), ("outcome", outcome)];
    let after = scrape_until(http, "the webhook delivered", |s| {
        s.value(
            "transcoder_notification_deliveries_total",
            &webhook("delivered"),
        ) == 1.0
    })
    .await;
    let retried = after.value(
        "transcoder_notification_deliveries_total",
        &webhook("retrying"),
    );
    assert_eq!(retried, 1.0, "{}", after.text);
    assert_eq!(receiver.received.lock().unwrap().len(), 2);
    let notify = [("phase", "notify"), ("outcome", "ok")];
    assert_eq!(
        after.value("transcoder_phase_duration_seconds_count", &notify),
        1.0
    );
    app.shutdown().await;
}

/// Rejected calls are counted with their status; labels stay bounded whatever the path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_and_unknown_paths_are_counted_with_bounded_labels() {
    let app = spawn_paused(Backend::Sqlite).await;
    let http = app.app().http_addr;
    let before = scrape(http).await;
    let grpc = format!("http://{}", app.app().grpc_addr.unwrap());
    let stranger = transcoder::client::connect(&grpc, "not-a-token")
        .await
        .unwrap();
    let status = stranger
        .clone()
        .get_job(pb::GetJobRequest {
            company_id: common::COMPANY.into(),
            job_id: "nothing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    // Unknown paths need a token like any other: without one, 401; with one, 404.
    let missing = |token: Option<&str>| {
        let request = reqwest::Client::new().get(format!("http://{http}/no/such/path/42"));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    assert_eq!(missing(None).await.unwrap().status(), 401);
    assert_eq!(missing(Some(&app.token)).await.unwrap().status(), 404);

    let after = scrape(http).await;
    let rejected = [
        ("service", "transcoder.v1.TranscoderService"),
        ("method", "GetJob"),
        ("code", "UNAUTHENTICATED"),
    ];
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta("transcoder_grpc_requests_total", &rejected), 1.0);
    for status in ["401", "404"] {
        let unmatched = [("route", "unmatched"), ("status", status)];
        assert_eq!(delta("transcoder_http_requests_total", &unmatched), 1.0);
    }
    assert!(
        !after.text.contains("/no/such/path"),
        "a raw path became a label:\n{}",
        after.text
    );
    app.shutdown().await;
}

/// A worker-only replica (no gRPC port) serves `/metrics` on its HTTP port, with the
/// queue read from the shared database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_only_process_serves_metrics() {
    let cluster = Cluster::new(&[]).await;
    let worker = cluster.spawn_worker("worker-1").await;
    assert!(worker.grpc_addr.is_none(), "a worker role serves no gRPC");
    let scraped = scrape(worker.http_addr).await;
    for priority in 5..=10 {
        let priority = priority.to_string();
        assert!(
            scraped
                .samples
                .iter()
                .any(|s| s.name == "transcoder_queue_depth"
                    && s.labels.get("priority") == Some(&priority)),
            "no queue depth for priority {priority}:\n{}",
            scraped.text
        );
        let labels = [("priority", priority.as_str())];
        assert_eq!(scraped.value("transcoder_queue_depth", &labels), 0.0);
    }
    assert_eq!(scraped.value("transcoder_jobs_running", &[]), 0.0);
    assert_eq!(
        scraped.value("transcoder_queue_read_failures_total", &[]),
        0.0
    );
    assert!(scraped.value("transcoder_db_pool_connections", &[]) >= 1.0);
}

#[test]
fn the_sample_parser_reads_labels_with_braces_and_escapes() {
    let sample =
        parse_sample(r#"x_total{route="/{company_id}/transcode",q="a\"b",le="+Inf"} 3"#).unwrap();
    assert_eq!(sample.name, "x_total");
    assert_eq!(sample.labels["route"], "/{company_id}/transcode");
    assert_eq!(sample.labels["q"], "a\"b");
    assert_eq!(sample.labels["le"], "+Inf");
    assert_eq!(sample.value, 3.0);
}
