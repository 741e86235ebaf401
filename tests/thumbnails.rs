//! Thumbnails end to end: a gRPC order with JPEG, PNG and WebP thumbnails runs on the
//! real app, and each image lands at its URL in the right format and size, showing the
//! frame of the asked time (checked by decoding it with ffmpeg).

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
        ..Default::default()
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
    // The result says the last frame was taken instead, and when that frame is.
    assert!(thumb.past_end, "{thumb:?}");
    assert!(
        (4.8..5.0).contains(&thumb.time_seconds),
        "the last frame of a 5 s clip, got {}",
        thumb.time_seconds
    );
    // No size asked: the source's own.
    assert_eq!((thumb.width, thumb.height), (640, 360));
    check_image(&thumb.urls[0], JPEG_MAGIC, (640, 360));
    app.shutdown().await;
}
on_both_backends!(
    a_time_past_the_end_takes_the_last_frame,
    super::past_the_end
);

/// `ffprobe`'s view of an image: its codec name and size.
fn ffprobe_image(url: &str) -> (String, u32, u32) {
    let path = local_path(url);
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=codec_name,width,height", "-of", "json"])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {}: {out:?}", path.display());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stream = &json["streams"][0];
    let size = |key: &str| stream[key].as_u64().unwrap() as u32;
    let codec = stream["codec_name"].as_str().unwrap().to_owned();
    (codec, size("width"), size("height"))
}

async fn run_thumbnails(
    app: &TestApp,
    source: &std::path::Path,
    thumbnails: Vec<pb::ThumbnailSpec>,
) -> pb::Job {
    let mut request = order(
        source,
        vec![output("small.mp4", "System preset: Generic 360p")],
    );
    request.thumbnails = thumbnails;
    let job = app.submit(request).await.unwrap();
    events_until_done(app, &job.id).await;
    let done = app.get(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formats_sizes_upscaling_and_percent_times() {
    let app = spawn_app(Backend::Sqlite).await;
    let at_percent = |filename: &str, percent: f64| pb::ThumbnailSpec {
        time_percent: Some(percent),
        ..thumbnail(filename, 0, 0, 0.0)
    };
    let done = run_thumbnails(
        &app,
        &clip_5s(),
        vec![
            thumbnail("small.webp", 320, 0, 1.0),
            // Larger than the 640x360 source: kept at the source's size...
            thumbnail("capped.png", 1280, 0, 1.0),
            // ...unless upscaling is asked for.
            pb::ThumbnailSpec {
                allow_upscale: true,
                ..thumbnail("large.jpg", 1280, 0, 1.0)
            },
            at_percent("middle.jpg", 50.0),
        ],
    )
    .await;
    let expected = [
        ("webp", "webp", (320, 180)),
        ("png", "png", (640, 360)),
        ("jpeg", "mjpeg", (1280, 720)),
        ("jpeg", "mjpeg", (640, 360)),
    ];
    for (thumb, (format, codec, size)) in done.thumbnails.iter().zip(expected) {
        assert_eq!(thumb.format, format, "{thumb:?}");
        assert_eq!((thumb.width, thumb.height), size, "{thumb:?}");
        assert!(!thumb.past_end, "{thumb:?}");
        assert_eq!(
            ffprobe_image(&thumb.urls[0]),
            (codec.to_owned(), size.0, size.1),
            "{}",
            thumb.filename
        );
    }
    let frame = 1.0 / 30.0;
    assert!(
        (done.thumbnails[0].time_seconds - 1.0).abs() < frame,
        "{:?}",
        done.thumbnails[0]
    );
    // 50 % of the probed 5 s.
    let middle = done.thumbnails[3].time_seconds;
    assert!((middle - 2.5).abs() < frame, "50 % of 5 s, got {middle}");
    // The order echoes what was asked.
    let asked = &done.order.as_ref().unwrap().thumbnails;
    assert_eq!(asked[3].time_percent, Some(50.0));
    assert!(asked[2].allow_upscale && !asked[1].allow_upscale);
    app.shutdown().await;
}

/// One solid colour per second of the colour-per-second clip.
const PALETTE: [[u8; 3]; 4] = [[220, 30, 30], [30, 200, 40], [30, 40, 220], [230, 230, 230]];

/// A 4 s 320x180 H.264 clip, 10 fps, whose whole picture is `PALETTE[s]` during second
/// `s`, made by pushing raw frames through `appsrc` into GStreamer's encoder.
fn colour_per_second_clip() -> std::path::PathBuf {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    let path = common::media_dir().join(format!("colours-{}.mp4", std::process::id()));
    transcoder::media::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width=320,height=180,framerate=10/1 \
         ! videoconvert ! x264enc speed-preset=ultrafast key-int-max=10 ! h264parse \
         ! mp4mux ! filesink location=\"{}\"",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gstreamer_app::AppSrc>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    for i in 0..40u64 {
        let colour = PALETTE[(i / 10) as usize];
        let pixels: Vec<u8> = colour.iter().copied().cycle().take(320 * 180 * 3).collect();
        let mut buffer = gst::Buffer::from_slice(pixels);
        let b = buffer.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_mseconds(i * 100));
        b.set_duration(gst::ClockTime::from_mseconds(100));
        src.push_buffer(buffer).unwrap();
    }
    src.end_of_stream().unwrap();
    let bus = pipeline.bus().unwrap();
    let end = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the clip is written in time");
    assert!(matches!(end.view(), gst::MessageView::Eos(_)), "{end:?}");
    pipeline.set_state(gst::State::Null).unwrap();
    path
}

/// The mean RGB colour of an image, decoded by ffmpeg.
fn mean_colour(url: &str) -> [f64; 3] {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(local_path(url))
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success() && !out.stdout.is_empty(), "{out:?}");
    let mut sum = [0f64; 3];
    for pixel in out.stdout.chunks_exact(3) {
        for (s, v) in sum.iter_mut().zip(pixel) {
            *s += *v as f64;
        }
    }
    let n = (out.stdout.len() / 3) as f64;
    sum.map(|s| s / n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_thumbnail_shows_the_colour_of_its_second() {
    let source = colour_per_second_clip();
    let app = spawn_app(Backend::Sqlite).await;
    let times = [0.5, 1.5, 2.2, 3.7];
    let thumbnails = times
        .iter()
        .enumerate()
        .map(|(i, t)| thumbnail(&format!("t{i}.png"), 0, 0, *t))
        .collect();
    let done = run_thumbnails(&app, &source, thumbnails).await;
    for (thumb, time) in done.thumbnails.iter().zip(times) {
        let second = time as usize;
        let mean = mean_colour(&thumb.urls[0]);
        let distance = |c: &[u8; 3]| {
            c.iter()
                .zip(mean)
                .map(|(a, b)| (*a as f64 - b).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let nearest = (0..PALETTE.len())
            .min_by(|a, b| distance(&PALETTE[*a]).total_cmp(&distance(&PALETTE[*b])))
            .unwrap();
        assert_eq!(nearest, second, "at {time} s the mean colour is {mean:?}");
        assert!(distance(&PALETTE[second]) < 30.0, "at {time} s: {mean:?}");
    }
    std::fs::remove_file(source).unwrap();
    app.shutdown().await;
}
