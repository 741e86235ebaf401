//! Thumbnails end to end: a gRPC order with JPEG and PNG thumbnails runs on the real app,
//! and each image lands at its URL in the right format and size.

mod common;

use common::{Backend, Kind, TestApp, clip_5s, order, output, spawn_app};
use std::path::PathBuf;
use std::time::Duration;
use transcoder::media::probe::probe_file;
use transcoder::proto as pb;

const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

fn local_path(url: &str) -> PathBuf {
    url::Url::parse(url).unwrap().to_file_path().unwrap()
}

fn thumbnail(filename: &str, width: u32, height: u32, time_seconds: f64) -> pb::ThumbnailSpec {
    pb::ThumbnailSpec {
        filename: filename.into(),
        label: String::new(),
        width,
        height,
        time_seconds,
    }
}

/// Every event of the job until its end, within a deadline.
async fn events_until_done(app: &TestApp, job_id: &str) -> Vec<pb::JobEvent> {
    tokio::time::timeout(Duration::from_secs(180), app.watch(job_id, 0))
        .await
        .expect("the job ended in time")
}

/// The image at `url`: its format by magic bytes, and its size by probing it.
fn check_image(url: &str, magic: &[u8], size: (u32, u32)) {
    let path = local_path(url);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(magic),
        "{} has the wrong format",
        path.display()
    );
    let info = probe_file(&path, 30).unwrap();
    let video = info.video.expect("an image probes as one video frame");
    assert_eq!((video.width, video.height), size, "{}", path.display());
}

async fn jpeg_and_png_thumbnails(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut request = order(
        &clip_5s(),
        vec![output("small.mp4", "System preset: Generic 360p")],
    );
    request.thumbnails = vec![
        pb::ThumbnailSpec {
            label: "poster".into(),
            ..thumbnail("poster.jpg", 320, 240, 1.0)
        },
        thumbnail("strip.png", 160, 0, 2.5),
    ];
    let job = app.submit(request).await.unwrap();
    let echoed = job.order.as_ref().unwrap().thumbnails.clone();
    assert_eq!(echoed.len(), 2);
    assert_eq!(
        (echoed[0].label.as_str(), echoed[1].label.as_str()),
        ("poster", "strip.png")
    );
    assert!(
        job.thumbnails
            .iter()
            .all(|t| t.state == pb::OutputState::Pending as i32)
    );

    let events = events_until_done(&app, &job.id).await;
    let done = app.get(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );

    let expected = [
        ("poster", JPEG_MAGIC, (320, 180)),
        ("strip.png", PNG_MAGIC, (160, 90)),
    ];
    assert_eq!(done.thumbnails.len(), expected.len());
    for (thumb, (label, magic, size)) in done.thumbnails.iter().zip(expected) {
        assert_eq!(thumb.label, label);
        assert_eq!(thumb.state, pb::OutputState::Succeeded as i32, "{thumb:?}");
        assert_eq!((thumb.width, thumb.height), size, "{thumb:?}");
        assert_eq!(thumb.urls.len(), 1, "one destination, one URL");
        check_image(&thumb.urls[0], magic, size);
    }

    let finished: Vec<pb::ThumbnailResult> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(Kind::ThumbnailFinished(f)) => f.thumbnail.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished, done.thumbnails,
        "one ThumbnailFinished per thumbnail"
    );
    // Thumbnails are free: only the output is billed.
    let lines = &done
        .billing
        .as_ref()
        .expect("a succeeded job is billed")
        .lines;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].output_label, "small.mp4");
    app.shutdown().await;
}
on_both_backends!(
    jpeg_and_png_thumbnails_are_written_and_reported,
    super::jpeg_and_png_thumbnails
);

async fn past_the_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut request = order(
        &clip_5s(),
        vec![output("small.mp4", "System preset: Generic 360p")],
    );
    request.thumbnails = vec![thumbnail("last.jpg", 0, 0, 60.0)];
    let job = app.submit(request).await.unwrap();
    events_until_done(&app, &job.id).await;
    let done = app.get(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    let thumb = &done.thumbnails[0];
    assert_eq!(thumb.state, pb::OutputState::Succeeded as i32);
    // No size asked: the source's own.
    assert_eq!((thumb.width, thumb.height), (640, 360));
    check_image(&thumb.urls[0], JPEG_MAGIC, (640, 360));
    app.shutdown().await;
}
on_both_backends!(
    a_time_past_the_end_takes_the_last_frame,
    super::past_the_end
);
