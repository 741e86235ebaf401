//! Every codec and container pair the engine allows, encoded through the real server and
//! checked with ffprobe (codec, dimensions, duration, bitrate, container); every pair it
//! forbids refused at save and, for a profile stored before the rule, at submit.

mod common;
mod media_check;

use common::{AppOptions, Backend, TestApp, file_uri, media_dir, spawn_app_with, spawn_paused};
use media_check::{
    BUSY_PICTURE, BUSY_SOUND, assert_near, clip, local_path, probe, stream_bitrate_bps,
};
use std::path::PathBuf;
use std::time::Duration;
use tonic::Code;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
const VIDEO_KBPS: u32 = 400;
const AUDIO_KBPS: u32 = 96;
/// A 2 s clip's worth of rate control: encoders land within this of their target.
const VIDEO_BITRATE_TOLERANCE: f64 = 0.25;
const AUDIO_BITRATE_TOLERANCE: f64 = 0.25;
const DURATION_TOLERANCE_SECONDS: f64 = 0.3;

/// One output: a container, its video codec (None for audio only), its audio codec, and
/// a frame rate to convert to (0 keeps the source's).
#[derive(Debug, Clone, Copy)]
struct Pair {
    container: &'static str,
    video: Option<&'static str>,
    audio: &'static str,
    frame_rate: f64,
}

const fn av(container: &'static str, video: &'static str, audio: &'static str) -> Pair {
    Pair {
        container,
        video: Some(video),
        audio,
        frame_rate: 0.0,
    }
}

const fn audio_only(container: &'static str, audio: &'static str) -> Pair {
    Pair {
        container,
        video: None,
        audio,
        frame_rate: 0.0,
    }
}

/// Every allowed video pair once, and every allowed audio pair at least once; one job per
/// container, so its outputs share one decode.
fn jobs() -> Vec<Vec<Pair>> {
    let mkv_at_15_fps = Pair {
        frame_rate: 15.0,
        ..av("mkv", "h264", "mp3")
    };
    vec![
        vec![
            av("mp4", "h264", "aac"),
            av("mp4", "h265", "mp3"),
            av("mp4", "vp9", "opus"),
            av("mp4", "av1", "aac"),
        ],
        vec![
            av("fmp4", "h264", "opus"),
            av("fmp4", "h265", "aac"),
            av("fmp4", "vp9", "mp3"),
            av("fmp4", "av1", "opus"),
        ],
        vec![
            mkv_at_15_fps,
            av("mkv", "h265", "opus"),
            av("mkv", "vp9", "aac"),
            av("mkv", "av1", "mp3"),
        ],
        vec![av("webm", "vp9", "opus"), av("webm", "av1", "opus")],
        vec![av("ts", "h264", "aac"), av("ts", "h265", "mp3")],
        vec![
            audio_only("m4a", "aac"),
            audio_only("mp3", "mp3"),
            audio_only("ogg", "opus"),
        ],
    ]
}

fn profile(pair: &Pair, description: &str) -> pb::Profile {
    pb::Profile {
        description: description.into(),
        container: pair.container.into(),
        video: pair.video.map(|codec| pb::VideoSettings {
            codec: codec.into(),
            width: WIDTH,
            height: HEIGHT,
            bitrate_kbps: VIDEO_KBPS,
            keyframe_interval_seconds: 1.0,
            frame_rate: pair.frame_rate,
            speed: "fastest".into(),
            ..Default::default()
        }),
        audio: Some(pb::AudioSettings {
            codec: pair.audio.into(),
            bitrate_kbps: AUDIO_KBPS,
            channels: 2,
            sample_rate: 48_000,
        }),
        ..Default::default()
    }
}

fn filename(pair: &Pair) -> String {
    let extension = match pair.container {
        "fmp4" => "mp4",
        "ogg" => "opus",
        other => other,
    };
    let video = pair.video.unwrap_or("novideo");
    format!("{video}-{}.{extension}", pair.audio)
}

/// 2 s of busy 320x240 at 30 fps with audio, well above the profiles' bitrates.
fn source() -> PathBuf {
    clip(
        media_dir(),
        "codecs-2s-320x240-noise.mp4",
        &ClipSpec {
            seconds: 2,
            width: WIDTH,
            height: HEIGHT,
            video_source_properties: BUSY_PICTURE.into(),
            video_bitrate_kbps: 2000,
            audio_source_properties: BUSY_SOUND.into(),
            ..ClipSpec::default()
        },
    )
}

use common::create_profile as create;

async fn finish(app: &TestApp, job_id: &str) -> pb::Job {
    tokio::time::timeout(Duration::from_secs(600), app.finish(job_id))
        .await
        .expect("the job ends within 10 minutes")
}

fn ffprobe_video_codec(codec: &str) -> &str {
    if codec == "h265" { "hevc" } else { codec }
}

fn video_element(codec: &str) -> &str {
    match codec {
        "h264" => "x264enc",
        "h265" => "x265enc",
        "vp9" => "vp9enc",
        _ => "av1enc",
    }
}

/// ffprobe's format name for the container, and bytes the file must hold (the EBML
/// doctype tells WebM from Matroska; `moof` boxes make an MP4 fragmented).
fn container_signature(container: &str) -> (&'static str, Option<&'static [u8]>) {
    const MP4: &str = "mov,mp4,m4a,3gp,3g2,mj2";
    match container {
        "mp4" | "m4a" => (MP4, None),
        "fmp4" => (MP4, Some(b"moof")),
        "webm" => ("matroska,webm", Some(b"webm")),
        "mkv" => ("matroska,webm", Some(b"matroska")),
        "ts" => ("mpegts", None),
        // xingmux's header, which makes the duration exact.
        "mp3" => ("mp3", Some(b"Xing")),
        "ogg" => ("ogg", None),
        other => panic!("no signature for {other}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_output(pair: &Pair, result: &pb::OutputResult, source_seconds: f64) {
    let what = format!("{} {:?}+{}", pair.container, pair.video, pair.audio);
    assert_eq!(
        result.state,
        pb::OutputState::Succeeded as i32,
        "{what}: {result:?}"
    );
    let path = local_path(&result.urls[0]);
    let probed = probe(&path);
    let (format_name, marker) = container_signature(pair.container);
    assert_eq!(probed.format.format_name, format_name, "{what}");
    if let Some(marker) = marker {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            contains(&bytes, marker),
            "{what}: no {:?} in the file",
            String::from_utf8_lossy(marker)
        );
    }
    if pair.container == "mp4" {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, b"moof"),
            "{what}: plain MP4 is not fragmented"
        );
    }
    assert!(
        (probed.duration() - source_seconds).abs() <= DURATION_TOLERANCE_SECONDS,
        "{what}: lasts {} s, the source {source_seconds} s",
        probed.duration()
    );
    let encoded = result.encoded.as_ref().expect("encode settings reported");

    let audio = probed.stream("audio").expect("an audio stream");
    assert_eq!(audio.codec_name, pair.audio, "{what}");
    assert_eq!(audio.channels, 2, "{what}");
    let audio_bps = stream_bitrate_bps(&path, "a");
    assert_near(
        &format!("{what} audio bitrate"),
        audio_bps,
        f64::from(AUDIO_KBPS * 1000),
        AUDIO_BITRATE_TOLERANCE,
    );
    assert_eq!(
        (encoded.audio_codec.as_str(), encoded.audio_bitrate_kbps),
        (pair.audio, AUDIO_KBPS),
        "{what}"
    );

    let Some(codec) = pair.video else {
        assert!(probed.stream("video").is_none(), "{what}: audio only");
        assert!(encoded.video_codec.is_empty(), "{what}: {encoded:?}");
        eprintln!(
            "{what}: audio {:+.1}%",
            (audio_bps / 96_000.0 - 1.0) * 100.0
        );
        return;
    };
    let video = probed.stream("video").expect("a video stream");
    assert_eq!(video.codec_name, ffprobe_video_codec(codec), "{what}");
    assert_eq!((video.width, video.height), (WIDTH, HEIGHT), "{what}");
    if pair.frame_rate > 0.0 {
        assert!(
            (video.frame_rate() - pair.frame_rate).abs() < 0.01,
            "{what}: {} fps",
            video.avg_frame_rate
        );
    }
    let video_bps = stream_bitrate_bps(&path, "v");
    eprintln!(
        "{what}: video {:.0} kb/s ({:+.1}%), audio {:+.1}%",
        video_bps / 1000.0,
        (video_bps / f64::from(VIDEO_KBPS * 1000) - 1.0) * 100.0,
        (audio_bps / f64::from(AUDIO_KBPS * 1000) - 1.0) * 100.0
    );
    assert_near(
        &format!("{what} video bitrate"),
        video_bps,
        f64::from(VIDEO_KBPS * 1000),
        VIDEO_BITRATE_TOLERANCE,
    );
    assert_eq!(
        (
            encoded.video_codec.as_str(),
            encoded.video_encoder.as_str(),
            encoded.width,
            encoded.height,
            encoded.video_bitrate_kbps,
            encoded.speed.as_str(),
            encoded.bitrate_capped_by_source,
        ),
        (
            ffprobe_video_codec(codec),
            video_element(codec),
            WIDTH,
            HEIGHT,
            VIDEO_KBPS,
            "fastest",
            false
        ),
        "{what}"
    );
    assert_eq!(encoded.frame_rate, pair.frame_rate, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_allowed_pair_is_written_as_asked() {
    let app = spawn_app_with(Backend::Sqlite, AppOptions::default()).await;
    let mut client = app.client.clone();
    let source = source();
    let source_seconds = probe(&source).duration();

    let mut submitted = Vec::new();
    for pairs in jobs() {
        let mut outputs = Vec::new();
        for pair in &pairs {
            let description = format!("codecs {}", filename(pair).replace('.', " in "));
            let saved = create(&mut client, profile(pair, &description))
                .await
                .unwrap_or_else(|e| panic!("{pair:?} is allowed: {e:?}"));
            outputs.push(pb::OutputSpec {
                filename: filename(pair),
                profile: Some(pb::output_spec::Profile::ProfileId(saved.id)),
                ..Default::default()
            });
        }
        let job = app
            .submit(pb::Order {
                origin: file_uri(&source),
                outputs,
                ..Default::default()
            })
            .await
            .unwrap();
        submitted.push((job.id, pairs));
    }
    for (job_id, pairs) in submitted {
        let job = finish(&app, &job_id).await;
        assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
        assert_eq!(job.outputs.len(), pairs.len());
        for (pair, result) in pairs.iter().zip(&job.outputs) {
            check_output(pair, result, source_seconds);
        }
    }
    app.shutdown().await;
}

/// Constant quality instead of a bitrate, for every video encoder: the level is reported,
/// and a better level (lower number) spends more bits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constant_quality_works_for_every_video_codec() {
    let app = spawn_app_with(Backend::Sqlite, AppOptions::default()).await;
    let mut client = app.client.clone();
    let levels = [20, 45];
    let mut outputs = Vec::new();
    for codec in ["h264", "h265", "vp9", "av1"] {
        for level in levels {
            let mut p = profile(&av("mkv", codec, "opus"), &format!("cq {codec} {level}"));
            let video = p.video.as_mut().unwrap();
            (video.bitrate_kbps, video.quality) = (0, level);
            let saved = create(&mut client, p).await.unwrap();
            outputs.push(pb::OutputSpec {
                filename: format!("{codec}-q{level}.mkv"),
                profile: Some(pb::output_spec::Profile::ProfileId(saved.id)),
                ..Default::default()
            });
        }
    }
    let job = app
        .submit(pb::Order {
            origin: file_uri(&source()),
            outputs,
            ..Default::default()
        })
        .await
        .unwrap();
    let job = finish(&app, &job.id).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
    for pair in job.outputs.chunks(2) {
        let [better, worse] = pair else {
            unreachable!()
        };
        let mut bits = Vec::new();
        for (result, level) in [better, worse].into_iter().zip(levels) {
            let encoded = result.encoded.as_ref().unwrap();
            assert_eq!(
                (encoded.quality, encoded.video_bitrate_kbps),
                (level, 0),
                "{result:?}"
            );
            let path = local_path(&result.urls[0]);
            let video = probe(&path);
            let video = video.stream("video").unwrap();
            assert_eq!(video.codec_name, encoded.video_codec, "{}", result.label);
            assert_eq!((video.width, video.height), (WIDTH, HEIGHT));
            bits.push(stream_bitrate_bps(&path, "v"));
        }
        eprintln!(
            "{}: {:.0} kb/s at {}, {:.0} kb/s at {}",
            better.label,
            bits[0] / 1000.0,
            levels[0],
            bits[1] / 1000.0,
            levels[1]
        );
        assert!(bits[0] > bits[1] * 1.5, "{}: {bits:?}", better.label);
    }
    app.shutdown().await;
}

/// Pairs the engine cannot write, and the field each is refused on.
const FORBIDDEN: [(&str, Option<&str>, &str, &str); 12] = [
    ("webm", Some("h265"), "opus", "profile.video.codec"),
    ("webm", Some("h264"), "opus", "profile.video.codec"),
    ("ts", Some("vp9"), "aac", "profile.video.codec"),
    ("ts", Some("av1"), "aac", "profile.video.codec"),
    ("webm", Some("vp9"), "aac", "profile.audio.codec"),
    ("webm", Some("av1"), "mp3", "profile.audio.codec"),
    ("ts", Some("h264"), "opus", "profile.audio.codec"),
    ("mp3", Some("h264"), "mp3", "profile.video"),
    ("m4a", Some("h264"), "aac", "profile.video"),
    ("mp3", None, "aac", "profile.audio.codec"),
    ("m4a", None, "opus", "profile.audio.codec"),
    ("ogg", None, "mp3", "profile.audio.codec"),
];

use common::bad_fields;

async fn forbidden_pairs_are_refused_at_save(backend: Backend) {
    let app = spawn_paused(backend).await;
    let mut client = app.client.clone();
    for (i, (container, video, audio, field)) in FORBIDDEN.into_iter().enumerate() {
        let pair = Pair {
            container,
            video,
            audio,
            frame_rate: 0.0,
        };
        let status = create(&mut client, profile(&pair, &format!("forbidden {i}")))
            .await
            .expect_err(&format!("{pair:?} is forbidden"));
        assert_eq!(status.code(), Code::InvalidArgument, "{pair:?}");
        assert_eq!(bad_fields(&status), [field], "{pair:?}: {status:?}");
    }
    let listed = client
        .list_profiles(pb::ListProfilesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .profiles;
    assert!(listed.iter().all(|p| p.system), "nothing was saved");
    app.shutdown().await;
}
on_both_backends!(refused_at_save, super::forbidden_pairs_are_refused_at_save);

/// Rewrites a stored profile's container behind the service's back, as a profile saved
/// before today's rules would read.
async fn rewrite_container(app: &TestApp, profile_id: u64, from: &str, to: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(app.settings().database_url())
        .await
        .unwrap();
    let sql = format!(
        "UPDATE profiles SET settings_json = REPLACE(settings_json, \
         '\"container\":\"{from}\"', '\"container\":\"{to}\"') WHERE id = {profile_id}"
    );
    let changed = db.execute_unprepared(&sql).await.unwrap().rows_affected();
    assert_eq!(changed, 1);
    db.close().await.unwrap();
}

async fn a_stored_forbidden_pair_is_refused_at_submit(backend: Backend) {
    let app = spawn_paused(backend).await;
    let mut client = app.client.clone();
    let saved = create(&mut client, profile(&av("webm", "vp9", "opus"), "old vp9"))
        .await
        .unwrap();
    rewrite_container(&app, saved.id, "webm", "ts").await;
    let stored = client
        .get_profile(pb::GetProfileRequest {
            company_id: String::new(),
            profile_id: saved.id,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        stored.container, "ts",
        "the row now holds VP9 + Opus in MPEG-TS"
    );

    let status = app
        .submit(pb::Order {
            origin: file_uri(&source()),
            outputs: vec![pb::OutputSpec {
                filename: "old.ts".into(),
                profile: Some(pb::output_spec::Profile::ProfileId(saved.id)),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect_err("VP9 and Opus cannot go into MPEG-TS");
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "order.outputs[0].profile.audio.codec",
            "order.outputs[0].profile.video.codec"
        ],
        "{status:?}"
    );
    app.shutdown().await;
}
on_both_backends!(
    refused_at_submit,
    super::a_stored_forbidden_pair_is_refused_at_submit
);

/// H.264's profile and level reach the stream, and the result says so.
#[tokio::test]
async fn h264_profile_and_level_are_written() {
    let app = spawn_app_with(Backend::Sqlite, AppOptions::default()).await;
    let mut client = app.client.clone();
    let mut p = profile(&av("mp4", "h264", "aac"), "codecs h264 main 3.1");
    let video = p.video.as_mut().unwrap();
    // At "fastest" x264 drops CABAC and B-frames and flags the stream Constrained Baseline
    // (which Main decoders play); medium speed writes Main itself.
    (video.codec_profile, video.level, video.speed) =
        ("main".into(), "3.1".into(), "medium".into());
    let saved = create(&mut client, p).await.unwrap();
    let job = app
        .submit(pb::Order {
            origin: file_uri(&source()),
            outputs: vec![pb::OutputSpec {
                filename: "main-31.mp4".into(),
                profile: Some(pb::output_spec::Profile::ProfileId(saved.id)),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let job = finish(&app, &job.id).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
    let result = &job.outputs[0];
    let encoded = result.encoded.as_ref().unwrap();
    assert_eq!(
        (encoded.codec_profile.as_str(), encoded.level.as_str()),
        ("main", "3.1")
    );
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=profile,level", "-of", "csv=p=0"])
        .arg(local_path(&result.urls[0]))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Main,31");
    app.shutdown().await;
}
