//! CancelJob in one process, on both backends: a queued job ends at once, a running one's
//! pipeline stops and nothing it wrote stays, a finished one cannot be canceled. (Across
//! replicas: tests/scale_out.rs.)

mod common;

use common::{Backend, Kind, TestApp, clip_5s, generated_clip, order, output, spawn_app};
use std::time::{Duration, Instant};
use tonic::Code;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

const WAIT: Duration = Duration::from_secs(120);

async fn cancel(app: &TestApp, job_id: &str) -> Result<pb::Job, tonic::Status> {
    app.client
        .clone()
        .cancel_job(pb::CancelJobRequest {
            company_id: common::COMPANY.into(),
            job_id: job_id.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// A 5 s job to 360p, submitted and followed to its end.
async fn short_job_to_its_end(app: &TestApp) -> pb::Job {
    let job = app
        .submit(order(
            &clip_5s(),
            vec![output("short.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, app.finish(&job.id))
        .await
        .expect("the job ends")
}

fn finished(events: &[pb::JobEvent]) -> &pb::JobFinished {
    match events.last().and_then(|e| e.kind.as_ref()) {
        Some(Kind::JobFinished(f)) => f,
        other => panic!("the last event is not the end: {other:?}"),
    }
}

async fn a_queued_job_is_canceled_at_once(backend: Backend) {
    let app = common::spawn_paused(backend).await;
    let job = app
        .submit(order(
            &clip_5s(),
            vec![output("out.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let canceled = cancel(&app, &job.id).await.expect("CancelJob");
    assert_eq!(canceled.state, pb::JobState::Canceled as i32);
    assert_eq!(canceled.error.as_ref().unwrap().code, "CANCELED");

    let events = tokio::time::timeout(WAIT, app.watch(&job.id, 0))
        .await
        .expect("the watch ends");
    assert_eq!(events.len(), 2, "queued, then canceled: {events:?}");
    assert_eq!(finished(&events).state, pb::JobState::Canceled as i32);
    let stored = app.get(&job.id).await;
    assert_eq!(stored.state, pb::JobState::Canceled as i32);
    assert!(stored.billing.is_none(), "a canceled job is not billed");

    // Workers that start later do not run it.
    app.app().workers.resume();
    let again = cancel(&app, &job.id).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(again.message().contains("CANCELED"), "{}", again.message());
    app.shutdown().await;
}
on_both_backends!(queued_cancel, super::a_queued_job_is_canceled_at_once);

/// A clip long enough that the transcode is still running when the cancel arrives.
fn long_clip() -> std::path::PathBuf {
    generated_clip(
        "cancel-40s-720p.mp4",
        &ClipSpec {
            seconds: 40,
            width: 1280,
            height: 720,
            ..ClipSpec::default()
        },
    )
}

async fn a_running_job_stops_and_leaves_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let job = app
        .submit(order(
            &long_clip(),
            vec![output("out.mp4", "System preset: Generic 720p")],
        ))
        .await
        .unwrap();
    let mut stream = app
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
    let mut events = Vec::new();
    let mut canceled_at = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Some(event) = tokio::time::timeout_at(deadline, stream.message())
        .await
        .expect("events keep coming")
        .unwrap()
    {
        let transcoding = matches!(&event.kind, Some(Kind::Progress(p))
            if p.phase == pb::JobPhase::Transcoding as i32);
        events.push(event);
        if transcoding && canceled_at.is_none() {
            let running = cancel(&app, &job.id).await.expect("CancelJob");
            assert_eq!(running.state, pb::JobState::Running as i32);
            canceled_at = Some(Instant::now());
        }
    }
    let took = canceled_at.expect("the job was transcoding").elapsed();
    let end = finished(&events);
    assert_eq!(end.state, pb::JobState::Canceled as i32, "{end:?}");
    assert_eq!(end.error.as_ref().unwrap().code, "CANCELED");
    eprintln!("cancel to CANCELED: {} ms", took.as_millis());
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let stored = app.get(&job.id).await;
    assert!(stored.billing.is_none(), "a canceled job is not billed");
    let out_dir = app
        .settings()
        .data_dir
        .join("outputs")
        .join(common::COMPANY)
        .join(&job.id);
    assert!(
        !out_dir.join("out.mp4").exists(),
        "no output of a canceled job is left at its destination"
    );
    let work = app.settings().data_dir.join("work").join(&job.id);
    assert!(!work.exists(), "the work dir is removed");

    // The worker is free again: the next job runs.
    let next = short_job_to_its_end(&app).await;
    assert_eq!(next.state, pb::JobState::Succeeded as i32);
    app.shutdown().await;
}
on_both_backends!(
    running_cancel,
    super::a_running_job_stops_and_leaves_nothing
);

async fn a_finished_job_cannot_be_canceled(backend: Backend) {
    let app = spawn_app(backend).await;
    let done = short_job_to_its_end(&app).await;
    assert_eq!(done.state, pb::JobState::Succeeded as i32);
    let refused = cancel(&app, &done.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains(&done.id),
        "{}",
        refused.message()
    );
    assert_eq!(
        app.get(&done.id).await.state,
        pb::JobState::Succeeded as i32
    );
    app.shutdown().await;
}
on_both_backends!(finished_cancel, super::a_finished_job_cannot_be_canceled);
