//! Jobs end to end: real server, real database, real GStreamer on generated media.

mod common;

use common::{
    Backend, Kind, TestApp, clip_2s_720p, clip_5s, clip_5s_silent, order, output, spawn_app,
};
use std::path::PathBuf;
use transcoder::media::probe::probe_file;
use transcoder::proto as pb;

fn local_path(url: &str) -> PathBuf {
    url::Url::parse(url).unwrap().to_file_path().unwrap()
}

fn assert_gapless_and_monotonic(events: &[pb::JobEvent]) {
    assert!(!events.is_empty());
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.sequence, i as u64 + 1, "sequence has a gap at {i}");
    }
    let percents: Vec<f64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(Kind::Progress(p)) => Some(p.percent),
            _ => None,
        })
        .collect();
    assert!(
        percents.windows(2).all(|w| w[1] >= w[0]),
        "percent went down: {percents:?}"
    );
    let terminal = events
        .iter()
        .position(|e| matches!(e.kind, Some(Kind::JobFinished(_))));
    assert_eq!(
        terminal,
        Some(events.len() - 1),
        "the last event, and only it, is terminal"
    );
}

async fn two_outputs_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let source = clip_5s();
    let source_info = probe_file(&source, 30).unwrap();
    let job = app
        .submit(order(
            &source,
            vec![
                output("small.mp4", "System preset: Generic 360p"),
                output("medium.mp4", "system preset generic 480p"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(job.state, pb::JobState::Queued as i32);

    // Two watchers from the start, concurrently with the job.
    let (first, second) = tokio::join!(app.watch(&job.id, 0), app.watch(&job.id, 0));
    assert_eq!(first, second, "two watchers see identical sequences");
    assert_gapless_and_monotonic(&first);
    let Some(Kind::JobFinished(finished)) = &first.last().unwrap().kind else {
        unreachable!()
    };
    assert_eq!(
        finished.state,
        pb::JobState::Succeeded as i32,
        "{finished:?}"
    );

    let ticks = common::progress_in(&first, pb::JobPhase::Transcoding);
    assert!(!ticks.is_empty(), "transcoding reported progress");
    assert!(ticks.iter().any(|p| p.fps > 0.0 && p.speed > 0.0));
    // Ticks follow the media: some land mid-way, at a plausible speed.
    assert!(
        ticks
            .iter()
            .any(|p| p.percent > 10.0 && p.percent < 85.0 && p.eta_seconds > 0.0),
        "{ticks:?}"
    );
    assert!(ticks.iter().all(|p| p.speed < 1000.0), "{ticks:?}");
    let output_events = first
        .iter()
        .filter(|e| matches!(e.kind, Some(Kind::OutputFinished(_))))
        .count();
    assert_eq!(output_events, 2);

    // A watcher after the end gets the whole history and the end.
    let late = app.watch(&job.id, 0).await;
    assert_eq!(late, first);
    let tail = app.watch(&job.id, 3).await;
    assert_eq!(tail, first[3..].to_vec());

    let done = app.get(&job.id).await;
    assert_eq!(done.state, pb::JobState::Succeeded as i32);
    assert_eq!(done.progress_percent, 100.0);
    // The source is 640x360: Generic 480p keeps it at that size rather than upscaling.
    let sizes = [(640, 360, "16:9"), (640, 360, "16:9")];
    for (result, (w, h, aspect)) in done.outputs.iter().zip(sizes) {
        assert_eq!(result.state, pb::OutputState::Succeeded as i32);
        assert_eq!(result.urls.len(), 1);
        let info = probe_file(&local_path(&result.urls[0]), 30).unwrap();
        let video = info.video.expect("output has video");
        let audio = info.audio.expect("output has audio");
        assert_eq!(
            (info.container.as_str(), info.mime_type.as_str()),
            ("mp4", "video/mp4")
        );
        assert_eq!(
            (video.codec.as_str(), audio.codec.as_str()),
            ("h264", "aac")
        );
        let reported = result.media.as_ref().unwrap();
        assert_eq!(
            (reported.video_codec.as_str(), reported.audio_codec.as_str()),
            ("h264", "aac")
        );
        assert!(reported.video_codec_description.starts_with("H.264"));
        assert_eq!((video.width, video.height), (w, h));
        assert_eq!(reported.display_aspect_ratio, aspect);
        assert!(
            (info.duration_seconds - source_info.duration_seconds).abs() <= 0.2,
            "output lasts {} s, source {} s",
            info.duration_seconds,
            source_info.duration_seconds
        );
        assert_eq!((reported.width, reported.height), (w, h));
    }
    app.shutdown().await;
}
on_both_backends!(two_output_order_succeeds, super::two_outputs_succeed);

/// 480p scales from the 720p source and 360p from 480p's scaled frames (plan.rs):
/// both outputs come out whole, at their sizes.
#[tokio::test]
async fn a_cascaded_ladder_succeeds() {
    let app = spawn_app(Backend::Sqlite).await;
    let source = clip_2s_720p();
    let source_info = probe_file(&source, 30).unwrap();
    let job = app
        .submit(order(
            &source,
            vec![
                output("small.mp4", "System preset: Generic 360p"),
                output("medium.mp4", "System preset: Generic 480p"),
            ],
        ))
        .await
        .unwrap();
    let events = app.watch(&job.id, 0).await;
    let Some(Kind::JobFinished(finished)) = &events.last().unwrap().kind else {
        unreachable!()
    };
    assert_eq!(
        finished.state,
        pb::JobState::Succeeded as i32,
        "{finished:?}"
    );
    let done = app.get(&job.id).await;
    for (result, size) in done.outputs.iter().zip([(640, 360), (854, 480)]) {
        let info = probe_file(&local_path(&result.urls[0]), 30).unwrap();
        let video = info.video.expect("output has video");
        assert_eq!((video.width, video.height), size);
        assert!(info.audio.is_some(), "output has audio");
        assert!(
            (info.duration_seconds - source_info.duration_seconds).abs() <= 0.2,
            "output lasts {} s, source {} s",
            info.duration_seconds,
            source_info.duration_seconds
        );
    }
    app.shutdown().await;
}

async fn silent_source_gives_silent_outputs(backend: Backend) {
    let app = spawn_app(backend).await;
    let job = app
        .submit(order(
            &clip_5s_silent(),
            vec![output("out.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let done = app.finish(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    let info = probe_file(&local_path(&done.outputs[0].urls[0]), 30).unwrap();
    assert!(info.video.is_some());
    assert!(info.audio.is_none());
    app.shutdown().await;
}
on_both_backends!(
    source_without_audio_works,
    super::silent_source_gives_silent_outputs
);

async fn expect_invalid_media(app: &TestApp, source: PathBuf) {
    let job = app
        .submit(order(
            &source,
            vec![output("out.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let done = app.finish(&job.id).await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.expect("a failed job says why");
    assert_eq!(error.code, "INVALID_MEDIA", "{error:?}");
    assert!(!error.message.is_empty());
    assert!(!error.retryable);
    assert_eq!(done.outputs[0].state, pb::OutputState::Failed as i32);
}

async fn corrupt_sources_fail_cleanly(backend: Backend) {
    let app = spawn_app(backend).await;
    expect_invalid_media(&app, common::random_bytes()).await;
    expect_invalid_media(&app, common::truncated_mp4()).await;
    // The worker survives and the next job succeeds.
    let job = app
        .submit(order(
            &clip_5s(),
            vec![output("ok.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    assert_eq!(
        app.finish(&job.id).await.state,
        pb::JobState::Succeeded as i32
    );
    app.shutdown().await;
}
on_both_backends!(
    corrupt_sources_fail_with_invalid_media,
    super::corrupt_sources_fail_cleanly
);

async fn missing_origin_fails_with_its_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = common::media_dir().join("no-such-file.mp4");
    let job = app
        .submit(order(
            &missing,
            vec![output("out.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let done = app.finish(&job.id).await;
    assert_eq!(done.state, pb::JobState::Failed as i32);
    let error = done.error.unwrap();
    assert_eq!(error.code, "ORIGIN_UNAVAILABLE");
    assert!(
        error.message.contains("no-such-file.mp4"),
        "{}",
        error.message
    );
    app.shutdown().await;
}
on_both_backends!(
    missing_origin_fails,
    super::missing_origin_fails_with_its_name
);

/// Waits on the job's events until it is RUNNING.
async fn wait_running(app: &TestApp, job_id: &str) {
    let mut stream = app
        .client
        .clone()
        .watch_job(pb::WatchJobRequest {
            company_id: "acme".into(),
            job_id: job_id.into(),
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    while let Some(event) = stream.message().await.unwrap() {
        if let Some(Kind::StateChanged(s)) = event.kind
            && s.state == pb::JobState::Running as i32
        {
            return;
        }
    }
    panic!("job {job_id} ended without running");
}

async fn priority_jumps_the_queue(backend: Backend) {
    let app = spawn_app(backend).await;
    app.app()
        .admin
        .update_company(
            common::COMPANY,
            transcoder::admin::CompanyChanges {
                priority_transcoding: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let clip = clip_5s();
    let make = |priority: i32, name: &str| {
        let mut o = order(&clip, vec![output(name, "System preset: Generic 360p")]);
        o.priority = Some(priority);
        o
    };
    let busy = app.submit(make(5, "busy.mp4")).await.unwrap();
    wait_running(&app, &busy.id).await;
    // Hold claims while the queue fills, so the running job cannot finish in between.
    app.app().workers.pause();
    let mut normal = Vec::new();
    for i in 0..3 {
        normal.push(
            app.submit(make(5, &format!("normal-{i}.mp4")))
                .await
                .unwrap(),
        );
    }
    let urgent = app.submit(make(10, "urgent.mp4")).await.unwrap();
    app.app().workers.resume();

    let mut started = Vec::new();
    for job in normal.iter().chain([&urgent]) {
        let done = app.finish(&job.id).await;
        assert_eq!(done.state, pb::JobState::Succeeded as i32);
        let at = done.started_at.unwrap();
        started.push((at.seconds, at.nanos, job.id.clone()));
    }
    started.sort();
    let order: Vec<&str> = started.iter().map(|s| s.2.as_str()).collect();
    let expected: Vec<&str> = [&urgent]
        .into_iter()
        .chain(normal.iter())
        .map(|j| j.id.as_str())
        .collect();
    assert_eq!(
        order, expected,
        "urgent first, then the normal ones oldest first"
    );
    app.shutdown().await;
}
on_both_backends!(
    priority_ten_runs_before_earlier_priority_five,
    super::priority_jumps_the_queue
);

/// Two apps in this process with the roles apart (sharing nothing but the database);
/// tests/scale_out.rs does the same with real processes.
async fn api_and_workers_in_separate_apps(backend: Backend) {
    use transcoder::config::Role;
    let api = common::spawn_app_with(
        backend,
        common::AppOptions::configured(|s| s.server.role = Role::Api),
    )
    .await;
    let worker = api.start_sibling(Role::Worker).await;
    let job = api
        .submit(order(
            &clip_5s(),
            vec![output("apart.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    // The API app publishes none of the job's events itself: they reach its watcher
    // through the hub (a notification on PostgreSQL, its poller on SQLite), well before
    // a watcher's own safety re-read.
    let events = tokio::time::timeout(std::time::Duration::from_secs(12), api.watch(&job.id, 0))
        .await
        .expect("events written by the worker process reach the API's watcher");
    assert_gapless_and_monotonic(&events);
    assert_eq!(api.get(&job.id).await.state, pb::JobState::Succeeded as i32);
    worker.shutdown().await;
    api.shutdown().await;
}
on_both_backends!(
    api_and_worker_roles_apart,
    super::api_and_workers_in_separate_apps
);
