//! Odd sources come out right: rotation tags, surround and odd-rate audio, variable frame
//! rates, interlacing, non-square pixels, 10-bit video, animated GIF and missing streams.
//! Each source is made here with ffmpeg (which can write what GStreamer's encoders cannot:
//! rotation tags, interlaced and 10-bit H.264), run through the real server, and every
//! output is checked with ffprobe.

mod common;
mod media_check;

use common::{TestApp, create_profile, file_uri, media_dir, spawn_app};
use media_check::{
    Stream, clip, ffmpeg_to, frame_count, local_path, made_once, probe, quadrant_luma,
};
use std::path::{Path, PathBuf};
use std::time::Duration;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

const DURATION_TOLERANCE_SECONDS: f64 = 0.15;

/// A source made once by `ffmpeg ARGS` (split at whitespace).
fn source(name: &str, args: &str) -> PathBuf {
    let args: Vec<&str> = args.split_whitespace().collect();
    made_once(media_dir(), name, |partial| ffmpeg_to(&args, partial))
}

const H264: &str = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p";

/// H.264 + AAC in MP4 inside `width` x `height`; `frame_rate` 0 keeps the source's.
fn h264(width: u32, height: u32, frame_rate: f64) -> pb::Profile {
    pb::Profile {
        container: "mp4".into(),
        video: Some(pb::VideoSettings {
            codec: "h264".into(),
            width,
            height,
            bitrate_kbps: 400,
            keyframe_interval_seconds: 1.0,
            frame_rate,
            speed: "fastest".into(),
            ..Default::default()
        }),
        audio: Some(aac(2, 48_000)),
        ..Default::default()
    }
}

fn aac(channels: u32, sample_rate: u32) -> pb::AudioSettings {
    pb::AudioSettings {
        codec: "aac".into(),
        bitrate_kbps: 96,
        channels,
        sample_rate,
    }
}

fn m4a(channels: u32, sample_rate: u32) -> pb::Profile {
    pb::Profile {
        container: "m4a".into(),
        audio: Some(aac(channels, sample_rate)),
        ..Default::default()
    }
}

/// Saves each profile and submits one job from `source` with an output per profile (its
/// label and file name are the given name) and `thumbnails`.
async fn submit(
    app: &TestApp,
    source: &Path,
    outputs: Vec<(&str, pb::Profile)>,
    thumbnails: Vec<pb::ThumbnailSpec>,
) -> String {
    let mut client = app.client.clone();
    let mut specs = Vec::new();
    for (name, mut profile) in outputs {
        profile.description = format!("{} {name}", source.display());
        let saved = create_profile(&mut client, profile).await.unwrap();
        specs.push(pb::OutputSpec {
            label: name.into(),
            filename: name.into(),
            profile: Some(pb::output_spec::Profile::ProfileId(saved.id)),
            ..Default::default()
        });
    }
    let order = pb::Order {
        origin: file_uri(source),
        outputs: specs,
        thumbnails,
        ..Default::default()
    };
    app.submit(order).await.unwrap().id
}

async fn finish(app: &TestApp, job_id: &str) -> pb::Job {
    tokio::time::timeout(Duration::from_secs(300), app.finish(job_id))
        .await
        .expect("the job ends within 5 minutes")
}

async fn succeeded(app: &TestApp, job_id: &str) -> pb::Job {
    let job = finish(app, job_id).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{:?}", job.error);
    job
}

/// The output's file, its video stream (if any) and its duration.
fn written(job: &pb::Job, label: &str) -> (PathBuf, Option<Stream>, f64) {
    let result = job.outputs.iter().find(|o| o.label == label).unwrap();
    let path = local_path(&result.urls[0]);
    let mut probed = probe(&path);
    let duration = probed.duration();
    let video = probed
        .streams
        .iter()
        .position(|s| s.codec_type == "video")
        .map(|i| probed.streams.swap_remove(i));
    (path, video, duration)
}

fn assert_duration(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= DURATION_TOLERANCE_SECONDS,
        "{what}: lasts {actual} s, expected {expected} s"
    );
}

/// White in the top-left quadrant only, as the picture stands upright; `turned`: as a
/// player shows it, else as stored.
fn assert_upright(what: &str, path: &Path, turned: bool) {
    let [top_left, rest @ ..] = quadrant_luma(path, turned);
    assert!(
        top_left > 150.0 && rest.iter().all(|l| *l < 80.0),
        "{what}: quadrant luma {top_left:.0} {rest:.0?}; white belongs top left"
    );
}

/// A portrait clip (180x320 upright, white top-left quadrant) stored turned, with a
/// rotation tag (`rotate` metadata, which ffmpeg 5.1 applies counterclockwise) to show it
/// upright again.
fn rotated_source(degrees: u32, stored_as: &str) -> PathBuf {
    made_once(media_dir(), &format!("rotated-{degrees}.mp4"), |partial| {
        let stored = partial.with_extension("stored.mp4");
        let encode = format!(
            "-f lavfi -i color=c=black:s=180x320:r=15:d=1 \
             -vf drawbox=x=0:y=0:w=90:h=160:color=white:t=fill,{stored_as} {H264}"
        );
        ffmpeg_to(&encode.split_whitespace().collect::<Vec<_>>(), &stored);
        // Encoding drops `rotate`; a stream copy writes it as the track's matrix.
        let rotate = format!("rotate={degrees}");
        let tag = [
            "-i",
            stored.to_str().unwrap(),
            "-c",
            "copy",
            "-metadata:s:v:0",
            &rotate,
        ];
        ffmpeg_to(&tag, partial);
        std::fs::remove_file(&stored).unwrap();
    })
}

/// A portrait clip stored turned and tagged to be turned back by 90, 180 or 270 degrees
/// comes out upright and portrait, with no rotation left; so do its thumbnails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_sources_come_out_upright_without_a_rotation_tag() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let mut jobs = Vec::new();
    for (degrees, stored_as) in [
        (90, "transpose=clock"),
        (180, "hflip,vflip"),
        (270, "transpose=cclock"),
    ] {
        let rotated = rotated_source(degrees, stored_as);
        let what = format!("the {degrees} source");
        let stored = probe(&rotated);
        let stored = stored.stream("video").unwrap();
        assert_ne!(stored.rotation(), 0, "{what} carries a rotation");
        assert_upright(&what, &rotated, true);
        let thumbnail = pb::ThumbnailSpec {
            filename: "still.jpg".into(),
            label: "still".into(),
            time_seconds: 0.5,
            ..Default::default()
        };
        let outputs = vec![("upright.mp4", h264(640, 360, 0.0))];
        jobs.push((
            degrees,
            submit(&app, &rotated, outputs, vec![thumbnail]).await,
        ));
    }
    for (degrees, job_id) in jobs {
        let job = succeeded(&app, &job_id).await;
        let what = format!("rotate {degrees}");
        let probed = job.source.as_ref().unwrap();
        assert_eq!((probed.width, probed.height), (180, 320), "{what}");
        let (path, video, duration) = written(&job, "upright.mp4");
        let video = video.unwrap();
        assert_eq!((video.width, video.height), (180, 320), "{what}");
        assert_eq!(video.rotation(), 0, "{what}: {:?}", video.side_data_list);
        assert_duration(&what, duration, 1.0);
        eprintln!(
            "{what}: {}x{} rotation {} {duration:.3} s",
            video.width,
            video.height,
            video.rotation()
        );
        assert_upright(&what, &path, false);

        let still = &job.thumbnails[0];
        assert_eq!((still.width, still.height), (180, 320), "{what} thumbnail");
        let still = local_path(&still.urls[0]);
        let image = probe(&still);
        let image = image.stream("video").unwrap();
        assert_eq!((image.width, image.height), (180, 320), "{what} thumbnail");
        assert_upright(&format!("{what} thumbnail"), &still, false);
    }
    app.shutdown().await;
}

/// The loudest sample, in dB below full scale.
fn peak_db(path: &Path) -> f64 {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-i"])
        .arg(path)
        .args(["-af", "volumedetect", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&out.stderr);
    let line = log.lines().find(|l| l.contains("max_volume:")).unwrap();
    let db = line.split("max_volume:").nth(1).unwrap();
    db.trim().trim_end_matches("dB").trim().parse().unwrap()
}

/// Tones on every channel, `channels` of them in ffmpeg's `layout`.
fn tones(channels: usize, layout: &str, rate: u32) -> String {
    let exprs: Vec<String> = (0..channels)
        .map(|c| format!("0.4*sin(2*PI*{}*t)", 330 + 110 * c))
        .collect();
    format!("aevalsrc={}:c={layout}:s={rate}:d=1", exprs.join("|"))
}

/// 5.1 and 7.1 are mixed down to the profile's channels, mono is spread to stereo, and
/// every sample rate is resampled to the profile's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_is_mixed_and_resampled_to_the_profile() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let surround_51 = tones(6, "5.1", 48_000);
    let surround_71 = tones(8, "7.1", 96_000);
    let sources = [
        (
            "surround-5.1-48k.m4a",
            format!("-f lavfi -i {surround_51} -c:a aac -b:a 192k"),
            6,
            48_000,
        ),
        (
            "surround-7.1-96k.mkv",
            format!("-f lavfi -i {surround_71} -c:a flac"),
            8,
            96_000,
        ),
        (
            "mono-22k.mp3",
            "-f lavfi -i sine=f=440:r=22050:d=1 -c:a libmp3lame".to_owned(),
            1,
            22_050,
        ),
    ]
    .map(|(name, args, channels, rate)| (source(name, &args), channels, rate));
    let mut jobs = Vec::new();
    for (path, channels, rate) in &sources {
        let probed = probe(path);
        let audio = probed.stream("audio").unwrap();
        let declared: u32 = audio.sample_rate.as_deref().unwrap().parse().unwrap();
        assert_eq!((audio.channels, declared), (*channels, *rate), "{path:?}");
        let outputs = vec![("stereo.m4a", m4a(2, 48_000)), ("mono.m4a", m4a(1, 44_100))];
        jobs.push((
            path,
            probed.duration(),
            submit(&app, path, outputs, vec![]).await,
        ));
    }
    for (source, source_seconds, job_id) in jobs {
        let job = succeeded(&app, &job_id).await;
        for (label, channels, rate) in [("stereo.m4a", 2, "48000"), ("mono.m4a", 1, "44100")] {
            let what = format!("{} -> {label}", source.display());
            let (path, video, duration) = written(&job, label);
            assert!(video.is_none(), "{what}");
            let probed = probe(&path);
            let audio = probed.stream("audio").unwrap();
            assert_eq!(audio.channels, channels, "{what}");
            assert_eq!(audio.sample_rate.as_deref(), Some(rate), "{what}");
            assert_duration(&what, duration, source_seconds);
            eprintln!("{what}: {channels} ch {rate} Hz {duration:.3} s");
            let peak = peak_db(&path);
            assert!(
                peak > -20.0,
                "{what}: peaks at {peak} dB, the mix lost the tones"
            );
        }
    }
    app.shutdown().await;
}

/// A variable frame rate (30 fps for a second, then 10 fps) becomes the profile's rate,
/// or keeps every source frame at its time where the profile keeps the source's rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_frame_rate_becomes_the_profiles_or_stays() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let vfr = source(
        "vfr-30-then-10.mp4",
        &format!(
            "-f lavfi -i testsrc2=s=320x240:r=30:d=2 \
             -vf select=lt(n\\,30)+not(mod(n\\,3)) -vsync vfr {H264}"
        ),
    );
    let source_frames = frame_count(&vfr);
    assert_eq!(
        source_frames, 40,
        "30 frames in the first second, 10 in the next"
    );
    let source_seconds = probe(&vfr).duration();
    let outputs = vec![
        ("at-25.mp4", h264(640, 360, 25.0)),
        ("as-source.mp4", h264(640, 360, 0.0)),
    ];
    let job_id = submit(&app, &vfr, outputs, vec![]).await;
    let job = succeeded(&app, &job_id).await;

    let (path, video, duration) = written(&job, "at-25.mp4");
    let video = video.unwrap();
    assert_eq!(video.avg_frame_rate, "25/1");
    assert_duration("at 25 fps", duration, source_seconds);
    let frames = frame_count(&path) as f64;
    eprintln!(
        "vfr at 25: {} {frames} frames {duration:.3} s",
        video.avg_frame_rate
    );
    assert!(
        (frames - 25.0 * duration).abs() <= 2.0,
        "{frames} frames in {duration} s"
    );

    let (path, video, duration) = written(&job, "as-source.mp4");
    assert!(video.is_some());
    assert_duration("as the source", duration, source_seconds);
    assert_eq!(
        frame_count(&path),
        source_frames,
        "every source frame, none added"
    );
    eprintln!("vfr as source: {source_frames} frames {duration:.3} s");
    app.shutdown().await;
}

/// An interlaced (top field first) source comes out progressive, one frame per frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interlaced_sources_come_out_progressive() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let interlaced = source(
        "interlaced-tff.mp4",
        &format!(
            "-f lavfi -i testsrc2=s=320x240:r=50:d=1 \
             -vf tinterlace=interleave_top,setfield=tff -flags +ilme+ildct \
             {H264} -field_order tt"
        ),
    );
    let probed = probe(&interlaced);
    let stored = probed.stream("video").unwrap();
    assert_eq!(
        stored.field_order.as_deref(),
        Some("tt"),
        "the source is interlaced"
    );
    let job_id = submit(
        &app,
        &interlaced,
        vec![("out.mp4", h264(640, 360, 0.0))],
        vec![],
    )
    .await;
    let job = succeeded(&app, &job_id).await;
    let (path, video, duration) = written(&job, "out.mp4");
    let video = video.unwrap();
    assert_eq!(video.field_order.as_deref(), Some("progressive"));
    assert_eq!((video.width, video.height), (320, 240));
    assert_eq!(video.avg_frame_rate, stored.avg_frame_rate);
    assert_duration("deinterlaced", duration, probed.duration());
    assert_eq!(frame_count(&path), frame_count(&interlaced));
    eprintln!(
        "interlaced: {:?} -> {:?} {} fps {duration:.3} s",
        stored.field_order, video.field_order, video.avg_frame_rate
    );
    app.shutdown().await;
}

/// 720x480 stored with 32:27 pixels (16:9 shown) comes out in square pixels at 16:9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anamorphic_sources_get_square_pixels_at_their_display_aspect() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let anamorphic = source(
        "anamorphic-720x480-32-27.mp4",
        &format!("-f lavfi -i testsrc2=s=720x480:r=25:d=1 -vf setsar=32/27 {H264}"),
    );
    let probed = probe(&anamorphic);
    let stored = probed.stream("video").unwrap();
    assert_eq!(stored.sample_aspect_ratio.as_deref(), Some("32:27"));
    let job_id = submit(
        &app,
        &anamorphic,
        vec![("out.mp4", h264(1280, 720, 0.0))],
        vec![],
    )
    .await;
    let job = succeeded(&app, &job_id).await;
    let shown = job.source.as_ref().unwrap();
    assert_eq!((shown.width, shown.height), (853, 480));
    assert_eq!(shown.display_aspect_ratio, "16:9");
    let (_, video, duration) = written(&job, "out.mp4");
    let video = video.unwrap();
    // 853 shown pixels, rounded down to even as 4:2:0 needs, never upscaled.
    assert_eq!((video.width, video.height), (852, 480));
    assert!(
        matches!(video.sample_aspect_ratio.as_deref(), None | Some("1:1")),
        "{:?}",
        video.sample_aspect_ratio
    );
    let aspect = video.display_aspect();
    eprintln!(
        "anamorphic: {}x{} SAR {:?} shown {aspect:.4} (16:9 is 1.7778)",
        video.width, video.height, video.sample_aspect_ratio
    );
    assert!(
        (aspect / (16.0 / 9.0) - 1.0).abs() < 0.005,
        "shown at {aspect}"
    );
    assert_duration("anamorphic", duration, probed.duration());
    app.shutdown().await;
}

/// H.264 High 10, HEVC Main 10 and VP9 profile 2 sources give 8-bit 4:2:0 outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_bit_sources_give_eight_bit_outputs() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let encoders = [
        ("high10.mp4", "-c:v libx264 -preset ultrafast"),
        (
            "main10.mp4",
            "-c:v libx265 -preset ultrafast -x265-params log-level=error",
        ),
        (
            "vp9-profile2.webm",
            "-c:v libvpx-vp9 -profile:v 2 -deadline realtime -cpu-used 8",
        ),
    ];
    let mut jobs = Vec::new();
    for (name, encoder) in encoders {
        let path = source(
            name,
            &format!("-f lavfi -i testsrc2=s=320x240:r=15:d=1 {encoder} -pix_fmt yuv420p10le"),
        );
        let probed = probe(&path);
        let stored = probed.stream("video").unwrap();
        assert_eq!(stored.pix_fmt, "yuv420p10le", "{name}");
        let outputs = vec![("out.mp4", h264(640, 360, 0.0))];
        jobs.push((
            name,
            probed.duration(),
            submit(&app, &path, outputs, vec![]).await,
        ));
    }
    for (name, source_seconds, job_id) in jobs {
        let job = succeeded(&app, &job_id).await;
        let (_, video, duration) = written(&job, "out.mp4");
        let video = video.unwrap();
        assert_eq!(video.pix_fmt, "yuv420p", "{name}");
        let profile = video.profile.as_deref().unwrap_or_default();
        assert!(!profile.contains("10"), "{name}: {profile}");
        assert_eq!((video.width, video.height), (320, 240), "{name}");
        assert_duration(name, duration, source_seconds);
        eprintln!("{name}: {} {profile} {duration:.3} s", video.pix_fmt);
    }
    app.shutdown().await;
}

/// An animated GIF (no sound) becomes a video-only MP4, at its own rate or the profile's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn animated_gifs_become_video_only_outputs() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let gif = source(
        "animated-10fps.gif",
        "-f lavfi -i testsrc=s=160x120:r=10:d=2",
    );
    assert_eq!(frame_count(&gif), 20);
    let outputs = vec![
        ("as-source.mp4", h264(640, 360, 0.0)),
        ("at-15.mp4", h264(640, 360, 15.0)),
    ];
    let job_id = submit(&app, &gif, outputs, vec![]).await;
    let job = succeeded(&app, &job_id).await;
    for (label, frames) in [("as-source.mp4", 20.0), ("at-15.mp4", 30.0)] {
        let (path, video, duration) = written(&job, label);
        let video = video.unwrap();
        assert_eq!((video.width, video.height), (160, 120), "{label}");
        assert!(
            probe(&path).stream("audio").is_none(),
            "{label}: no sound to keep"
        );
        assert_duration(label, duration, 2.0);
        let counted = frame_count(&path) as f64;
        eprintln!("gif {label}: {counted} frames {duration:.3} s");
        assert!((counted - frames).abs() <= 1.0, "{label}: {counted} frames");
    }
    app.shutdown().await;
}

/// Sound alone from a video source works; a picture from a sound-only source fails at
/// once, naming the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_streams_give_what_exists_or_a_clear_error() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let spec = ClipSpec {
        seconds: 1,
        width: 320,
        height: 240,
        ..ClipSpec::default()
    };
    let with_video = clip(media_dir(), "sources-1s-320x240.mp4", &spec);
    let job_id = submit(
        &app,
        &with_video,
        vec![("sound.m4a", m4a(2, 48_000))],
        vec![],
    )
    .await;
    let job = succeeded(&app, &job_id).await;
    let (path, video, duration) = written(&job, "sound.m4a");
    assert!(video.is_none());
    assert_eq!(probe(&path).stream("audio").unwrap().channels, 2);
    assert_duration("sound only", duration, probe(&with_video).duration());

    let sound_only = source("sine-1s.m4a", "-f lavfi -i sine=f=440:d=1 -c:a aac");
    let mut picture_only = h264(640, 360, 0.0);
    picture_only.audio = None;
    let job_id = submit(
        &app,
        &sound_only,
        vec![("picture.mp4", picture_only)],
        vec![],
    )
    .await;
    let job = finish(&app, &job_id).await;
    assert_eq!(job.state, pb::JobState::Failed as i32);
    let error = job.error.unwrap();
    assert_eq!(error.code, "INVALID_MEDIA");
    assert!(!error.retryable);
    assert!(
        error.message.contains("'picture.mp4'") && error.message.contains("video"),
        "{}",
        error.message
    );
    app.shutdown().await;
}
