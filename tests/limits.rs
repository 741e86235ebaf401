//! Limits: a source over a configured limit fails before decoding, on its first attempt,
//! naming the setting and the value; an order over a cap is refused at submit naming the
//! field; and a source that cannot be decoded is not retried either.

mod common;

use common::{AppOptions, Backend, COMPANY, TestApp, bad_fields, clip_5s, output, spawn_app_with};
use std::time::Duration;
use transcoder::config::Settings;
use transcoder::proto as pb;

const PRESET: &str = "System preset: Generic 360p";
/// Generous: every job here fails fast or makes a 5 s clip.
const JOB_WAIT: Duration = Duration::from_secs(120);

async fn app_with(configure: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(move |s| {
            // Anything retried would show as more than one attempt.
            s.workers.max_attempts = 3;
            configure(s);
        }),
    )
    .await
}

/// Submits the 5 s 640x360 clip (video and audio: two streams) and waits for its end.
async fn run_clip(app: &TestApp, source: &std::path::Path) -> pb::Job {
    let job = app
        .submit(common::order(source, vec![output("out.mp4", PRESET)]))
        .await
        .unwrap();
    tokio::time::timeout(JOB_WAIT, app.finish(&job.id))
        .await
        .expect("the job ends in time")
}

async fn fails_over_limit(
    configure: impl FnOnce(&mut Settings) + Send + 'static,
    setting: &str,
    value: &str,
) {
    let app = app_with(configure).await;
    let done = run_clip(&app, &clip_5s()).await;
    assert_eq!(done.state, pb::JobState::Failed as i32, "{setting}");
    let error = done.error.expect("a failed job says why");
    assert_eq!(error.code, "LIMIT_EXCEEDED", "{error:?}");
    assert!(error.message.contains(setting), "{error:?}");
    assert!(error.message.contains(value), "{error:?}");
    assert!(!error.retryable);
    assert_eq!(done.attempts, 1, "a limit on the same source is final");
    assert!(done.outputs.iter().all(|o| o.urls.is_empty()));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_over_a_limit_fail_on_the_first_attempt_naming_it() {
    let size = std::fs::metadata(clip_5s()).unwrap().len();
    fails_over_limit(
        move |s| s.limits.max_source_bytes = size - 1,
        "limits.max_source_bytes",
        &size.to_string(),
    )
    .await;
    fails_over_limit(
        |s| s.limits.max_duration_seconds = 4.0,
        "limits.max_duration_seconds",
        "5.0 s",
    )
    .await;
    fails_over_limit(
        |s| s.limits.max_pixels = 320 * 180,
        "limits.max_pixels",
        "640x360",
    )
    .await;
    fails_over_limit(
        |s| s.limits.max_streams = 1,
        "limits.max_streams",
        "2 streams",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_at_the_limits_is_transcoded() {
    let app = app_with(|s| {
        s.limits.max_pixels = 640 * 360;
        s.limits.max_streams = 2;
        s.limits.max_duration_seconds = 5.5;
    })
    .await;
    let done = run_clip(&app, &clip_5s()).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    let source = done.source.expect("the probe's findings");
    assert_eq!(done.attempts, 1);
    assert_eq!((source.width, source.height), (640, 360));
    assert!(!source.audio_codec.is_empty());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_cannot_be_decoded_is_not_retried() {
    // Random bytes, not the truncated MP4: Discoverer sometimes times out on that one
    // while another pipeline runs in the process (a retryable probe timeout), which would
    // make the attempt count here depend on the other tests.
    let app = app_with(|_| {}).await;
    let done = run_clip(&app, &common::random_bytes()).await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.expect("a failed job says why");
    assert_eq!(error.code, "INVALID_MEDIA", "{error:?}");
    assert!(!error.retryable);
    assert_eq!(done.attempts, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_over_a_cap_are_refused_at_submit_naming_the_field() {
    let app = app_with(|s| s.limits.max_outputs = 2).await;
    let long = |n: usize| "x".repeat(n);
    let mut order = common::order(
        &clip_5s(),
        vec![
            pb::OutputSpec {
                label: long(transcoder::domain::order::MAX_LABEL_CHARS + 1),
                ..output("a.mp4", PRESET)
            },
            output("b.mp4", PRESET),
            output("c.mp4", PRESET),
        ],
    );
    order.origin = format!("https://example.com/{}", long(3000));
    order.destinations = vec![
        pb::Destination {
            uri: "s3://bucket/out/".into(),
            ..Default::default()
        };
        11
    ];
    let refused = app.submit(order).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let fields = bad_fields(&refused);
    for field in [
        "order.origin",
        "order.destinations",
        "order.outputs",
        "order.outputs[0].label",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    assert!(refused.message().contains("order.origin"), "{refused:?}");

    let keyed = app
        .client
        .clone()
        .submit_job(pb::SubmitJobRequest {
            company_id: COMPANY.into(),
            order: Some(common::order(&clip_5s(), vec![output("a.mp4", PRESET)])),
            idempotency_key: long(257),
        })
        .await
        .unwrap_err();
    assert_eq!(keyed.code(), tonic::Code::InvalidArgument);
    assert_eq!(bad_fields(&keyed), ["idempotency_key"]);

    // Nothing refused was queued.
    let listed = app
        .client
        .clone()
        .list_jobs(pb::ListJobsRequest {
            company_id: COMPANY.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.is_empty());
    app.shutdown().await;
}
