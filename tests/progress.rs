//! Per-output progress: WatchJob's transcoding ticks name every output with its own
//! percent, so a cheap output is seen ahead of an expensive one.

mod common;

use common::{Backend, order, output, spawn_app};
use std::collections::HashMap;
use std::path::PathBuf;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

/// A 3 s 1920x1080 clip with audio, generated once under the test media dir.
fn clip_3s_1080p() -> PathBuf {
    common::generated_clip(
        "clip-3s-1080p.mp4",
        &ClipSpec {
            seconds: 3,
            width: 1920,
            height: 1080,
            video_bitrate_kbps: 6000,
            ..ClipSpec::default()
        },
    )
}

#[tokio::test]
async fn each_output_reports_its_own_percent() {
    let app = spawn_app(Backend::Sqlite).await;
    let labelled = |label: &str, filename: &str, preset: &str| pb::OutputSpec {
        label: label.into(),
        ..output(filename, preset)
    };
    let job = app
        .submit(order(
            &clip_3s_1080p(),
            vec![
                labelled("film", "film.mp4", "System preset: Generic 1080p"),
                labelled("sound", "sound.m4a", "System preset: Audio only AAC 128k"),
            ],
        ))
        .await
        .unwrap();
    let events = tokio::time::timeout(std::time::Duration::from_secs(300), app.watch(&job.id, 0))
        .await
        .expect("the job ends within 300 s");
    let done = app.get(&job.id).await;
    assert_eq!(done.state, pb::JobState::Succeeded as i32, "{done:?}");

    let ticks = common::progress_in(&events, pb::JobPhase::Transcoding);
    assert!(!ticks.is_empty(), "transcoding reported progress");
    let mut last: HashMap<String, f64> = HashMap::new();
    for tick in &ticks {
        for own in &tick.outputs {
            assert!((0.0..=100.0).contains(&own.percent), "{tick:?}");
            let before = last.insert(own.label.clone(), own.percent).unwrap_or(0.0);
            assert!(own.percent >= before, "{} went down: {ticks:?}", own.label);
        }
    }
    let percents = |tick: &pb::Progress| {
        let of = |label: &str| {
            tick.outputs
                .iter()
                .find(|o| o.label == label)
                .map(|o| o.percent)
        };
        (of("film"), of("sound"))
    };
    assert!(
        ticks
            .iter()
            .all(|t| matches!(percents(t), (Some(_), Some(_)))),
        "every tick names both outputs: {ticks:?}"
    );
    // The audio-only output needs no video encoding: it runs ahead of the 1080p one.
    assert!(
        ticks.iter().any(|t| match percents(t) {
            (Some(film), Some(sound)) => sound > film + 1.0,
            _ => false,
        }),
        "{ticks:?}"
    );
    for result in &done.outputs {
        assert_eq!(result.percent, 100.0, "{result:?}");
    }
    app.shutdown().await;
}

/// Progress ticks are written at most about twice a second per job (the default
/// `workers.progress_min_interval_ms`), however often the pipeline samples, and a tick
/// writes only progress: GetJob during the run shows each output's percent.
#[tokio::test]
async fn progress_writes_are_capped_per_job() {
    let app = common::spawn_app_with(
        Backend::Sqlite,
        common::AppOptions::configured(|s| {
            s.limits.progress_interval_ms = 50;
            s.workers.progress_min_interval_ms = 500;
        }),
    )
    .await;
    let clip = common::generated_clip(
        "progress-12s-720p.mp4",
        &ClipSpec {
            seconds: 12,
            width: 1280,
            height: 720,
            ..ClipSpec::default()
        },
    );
    let job = app
        .submit(order(
            &clip,
            vec![output("out.mp4", "System preset: Generic 720p")],
        ))
        .await
        .unwrap();
    let events = tokio::time::timeout(std::time::Duration::from_secs(300), app.watch(&job.id, 0))
        .await
        .expect("the job ends within 300 s");
    assert_eq!(app.get(&job.id).await.state, pb::JobState::Succeeded as i32);
    let times: Vec<std::time::SystemTime> = events
        .iter()
        .filter(|e| matches!(e.kind, Some(common::Kind::Progress(_))))
        .map(|e| e.time.unwrap().try_into().unwrap())
        .collect();
    assert!(
        times.len() >= 2,
        "the run reported progress: {}",
        times.len()
    );
    // Event times are stamped at the write, after the cap's clock: allow some jitter
    // per pair, none in the overall rate.
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]).unwrap_or_default();
        assert!(
            gap >= std::time::Duration::from_millis(350),
            "two progress writes {gap:?} apart"
        );
    }
    let span = times[times.len() - 1]
        .duration_since(times[0])
        .unwrap_or_default()
        .as_secs_f64();
    let rate = (times.len() - 1) as f64 / span.max(1e-3);
    assert!(rate <= 2.1, "{rate:.2} progress writes per second");
    app.shutdown().await;
}
