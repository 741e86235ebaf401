//! Per-output progress: WatchJob's transcoding ticks name every output with its own
//! percent, so a cheap output is seen ahead of an expensive one.

mod common;

use common::{Backend, order, output, spawn_app};
use std::collections::HashMap;
use std::path::PathBuf;
use transcoder::media::testclip::ClipSpec;
use transcoder::proto as pb;

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
