//! The source limits an encode: restrict bitrate gives min(source, profile) (the seed's
//! 985/1200 example), and a source smaller than the profile's box keeps its size. Checked
//! on the result's `encoded` settings and, independently, with ffprobe.

mod common;
mod media_check;

use common::{Backend, TestApp, file_uri, media_dir, spawn_app};
use media_check::{BUSY_PICTURE, BUSY_SOUND, clip, local_path, probe, stream_bitrate_bps};
use std::path::{Path, PathBuf};
use std::time::Duration;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

/// An encode at the source's bitrate may overshoot it by this much on a 2 s clip.
const OVERSHOOT: f64 = 1.15;

fn busy_clip(name: &str, width: u32, height: u32, kbps: u32) -> PathBuf {
    clip(
        media_dir(),
        name,
        &ClipSpec {
            seconds: 2,
            width,
            height,
            video_source_properties: BUSY_PICTURE.into(),
            audio_source_properties: BUSY_SOUND.into(),
            video_bitrate_kbps: kbps,
            ..ClipSpec::default()
        },
    )
}

async fn run(app: &TestApp, source: &Path, outputs: Vec<pb::OutputSpec>) -> pb::Job {
    let job = app
        .submit(pb::Order {
            origin: file_uri(source),
            outputs,
            ..Default::default()
        })
        .await
        .unwrap();
    let done = tokio::time::timeout(Duration::from_secs(300), app.finish(&job.id))
        .await
        .expect("the job ends within 5 minutes");
    assert_eq!(done.state, pb::JobState::Succeeded as i32, "{done:?}");
    done
}

fn encoded(result: &pb::OutputResult) -> &pb::EncodeSettings {
    result.encoded.as_ref().expect("encode settings reported")
}

/// The job's probe of its source: the bitrate the service capped at.
fn source_video_kbps(job: &pb::Job) -> u32 {
    let bps = job
        .source
        .as_ref()
        .expect("the source was probed")
        .video_bitrate_bps;
    u32::try_from(bps / 1000).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_low_bitrate_source_is_neither_upscaled_nor_inflated() {
    let app = spawn_app(Backend::Sqlite).await;
    let source = busy_clip("restrict-640x272-300k.mp4", 640, 272, 300);
    let job = run(
        &app,
        &source,
        vec![common::output("out.mp4", "System preset: Generic 720p")],
    )
    .await;

    let result = &job.outputs[0];
    let path = local_path(&result.urls[0]);
    let video = probe(&path);
    let video = video.stream("video").expect("a video stream");
    assert_eq!((video.width, video.height), (640, 272), "not 1280x544");

    let settings = encoded(result);
    assert_eq!((settings.width, settings.height), (640, 272));
    assert!(settings.bitrate_capped_by_source, "{settings:?}");
    assert_eq!(settings.video_bitrate_kbps, source_video_kbps(&job));
    assert!(
        settings.video_bitrate_kbps < 2800,
        "the preset's 2800 was capped"
    );

    let source_bps = stream_bitrate_bps(&source, "v");
    let output_bps = stream_bitrate_bps(&path, "v");
    eprintln!(
        "640x272 source {:.0} kb/s (job's probe {} kb/s), output {:.0} kb/s ({:+.1}%)",
        source_bps / 1000.0,
        settings.video_bitrate_kbps,
        output_bps / 1000.0,
        (output_bps / source_bps - 1.0) * 100.0
    );
    assert!(
        output_bps <= source_bps * OVERSHOOT,
        "output {output_bps:.0} b/s, source {source_bps:.0} b/s"
    );
    app.shutdown().await;
}

fn profile_1200(description: &str, restrict_bitrate: bool) -> pb::Profile {
    pb::Profile {
        description: description.into(),
        container: "mp4".into(),
        video: Some(pb::VideoSettings {
            codec: "h264".into(),
            width: 640,
            height: 360,
            bitrate_kbps: 1200,
            keyframe_interval_seconds: 1.0,
            speed: "fastest".into(),
            ..Default::default()
        }),
        audio: Some(pb::AudioSettings {
            codec: "aac".into(),
            bitrate_kbps: 96,
            channels: 2,
            sample_rate: 48_000,
        }),
        restrict_bitrate,
        ..Default::default()
    }
}

/// The seed's example: a 985 kb/s source and a 1200 kb/s profile encode at 985; the
/// same profile without restrict_bitrate encodes at 1200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_985_kbps_source_caps_a_1200_kbps_profile() {
    let app = spawn_app(Backend::Sqlite).await;
    let source = busy_clip("restrict-640x360-985k.mp4", 640, 360, 985);
    let mut client = app.client.clone();
    let mut outputs = Vec::new();
    for (name, restrict) in [("restricted.mp4", true), ("unrestricted.mp4", false)] {
        let saved = client
            .create_profile(pb::CreateProfileRequest {
                company_id: String::new(),
                profile: Some(profile_1200(name, restrict)),
            })
            .await
            .unwrap()
            .into_inner();
        outputs.push(pb::OutputSpec {
            filename: name.into(),
            profile: Some(pb::output_spec::Profile::ProfileId(saved.id)),
            ..Default::default()
        });
    }
    let job = run(&app, &source, outputs).await;

    let source_kbps = source_video_kbps(&job);
    let ffprobe_source_bps = stream_bitrate_bps(&source, "v");
    // The job's probe reads the rate the MP4 declares, which for a GStreamer-made file is
    // x264's nominal one (985 x 1024 b/s), not the measured mean ffprobe gives.
    assert!(
        (f64::from(source_kbps) * 1000.0 / ffprobe_source_bps - 1.0).abs() < 0.15,
        "the job's probe ({source_kbps} kb/s) agrees with ffprobe ({ffprobe_source_bps:.0} b/s)"
    );
    assert!(
        (900..1100).contains(&source_kbps),
        "a source near 985 kb/s, got {source_kbps}"
    );

    let restricted = encoded(&job.outputs[0]);
    assert_eq!(
        (
            restricted.video_bitrate_kbps,
            restricted.bitrate_capped_by_source
        ),
        (source_kbps, true)
    );
    let unrestricted = encoded(&job.outputs[1]);
    assert_eq!(
        (
            unrestricted.video_bitrate_kbps,
            unrestricted.bitrate_capped_by_source
        ),
        (1200, false)
    );

    let restricted_bps = stream_bitrate_bps(&local_path(&job.outputs[0].urls[0]), "v");
    let unrestricted_bps = stream_bitrate_bps(&local_path(&job.outputs[1].urls[0]), "v");
    eprintln!(
        "985/1200: source {:.0} kb/s, restricted {:.0} kb/s, unrestricted {:.0} kb/s",
        ffprobe_source_bps / 1000.0,
        restricted_bps / 1000.0,
        unrestricted_bps / 1000.0
    );
    assert!(restricted_bps <= ffprobe_source_bps * OVERSHOOT);
    assert!(
        unrestricted_bps > restricted_bps,
        "1200 kb/s spends more than {source_kbps}"
    );
    app.shutdown().await;
}
