//! HLS ladders end to end: the real server transcodes a generated 720p clip with the two
//! HLS presets (CMAF and TS segments) into a local destination, and the tree is checked
//! independently: m3u8-rs parses the playlists, ffprobe reads every segment and finds a
//! key frame at the start of each, at the same time in every rung, and ffmpeg decodes the
//! whole master playlist without an error.

mod common;

use common::{Backend, media_dir, output, spawn_app};
use m3u8_rs::{MasterPlaylist, MediaPlaylist};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

const CMAF_PRESET: &str = "System preset: HLS ladder";
const TS_PRESET: &str = "System preset: HLS ladder (TS segments)";
/// The presets' segment length.
const SEGMENT_SECONDS: f64 = 6.0;
const CLIP_SECONDS: u32 = 8;

/// An 8 s 1280x720 30 fps clip with audio: two segments a rung, and a 1080p rung to drop.
fn clip_8s_720p() -> PathBuf {
    common::generated_clip(
        "clip-8s-720p.mp4",
        &ClipSpec {
            seconds: CLIP_SECONDS,
            width: 1280,
            height: 720,
            ..ClipSpec::default()
        },
    )
}

/// Runs a command under coreutils' `timeout`; returns (success, stdout, stderr).
fn run(program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read_master(path: &Path) -> MasterPlaylist {
    let bytes = std::fs::read(path).unwrap();
    m3u8_rs::parse_master_playlist_res(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_media(path: &Path) -> MediaPlaylist {
    let bytes = std::fs::read(path).unwrap();
    m3u8_rs::parse_media_playlist_res(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Probes one segment on its own (after its init segment, for CMAF): ffprobe must read
/// it without a complaint. Returns its number of video packets (0 for audio only).
fn probe_segment(dir: &Path, init: Option<&str>, uri: &str, scratch: &Path) -> usize {
    let file = match init {
        Some(init) => {
            join_files(&[dir.join(init), dir.join(uri)], scratch);
            scratch.to_owned()
        }
        None => dir.join(uri),
    };
    let file = file.to_str().unwrap();
    let (ok, streams, err) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_packets",
            "-show_entries",
            "stream=index,codec_type,nb_read_packets",
            "-of",
            "csv=p=0",
            file,
        ],
    );
    assert!(ok && err.is_empty(), "ffprobe {uri}: {err}");
    // By stream index: ffprobe lists a TS program's streams twice.
    let streams: std::collections::BTreeMap<&str, (&str, usize)> = streams
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(',');
            let index = fields.next()?;
            let kind = fields.next()?;
            let packets = fields.next()?.trim().parse().ok()?;
            Some((index, (kind, packets)))
        })
        .collect();
    assert!(!streams.is_empty(), "{uri}: no stream");
    streams
        .values()
        .filter(|(k, _)| *k == "video")
        .map(|(_, n)| n)
        .sum()
}

fn join_files(parts: &[PathBuf], into: &Path) {
    let mut bytes = Vec::new();
    for part in parts {
        bytes.extend(std::fs::read(part).unwrap());
    }
    std::fs::write(into, bytes).unwrap();
}

/// Every video packet of `file` (the rung's segments joined, as a player reads them):
/// presentation time and whether it is a key frame, in decoding order.
fn video_packets(file: &Path) -> Vec<(f64, bool)> {
    let (ok, packets, err) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,flags",
            "-of",
            "csv=p=0",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        ok && err.is_empty(),
        "ffprobe packets of {}: {err}",
        file.display()
    );
    packets
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(pts, flags)| (pts.parse().unwrap(), flags.starts_with('K')))
        .collect()
}

/// Checks one ladder's tree under `out_dir`; returns its rungs' names.
fn check_ladder(out_dir: &Path, result: &pb::OutputResult, cmaf: bool) -> Vec<String> {
    assert!(
        result.urls[0].ends_with(&result.filename),
        "{:?}",
        result.urls
    );
    let master_path = out_dir.join(&result.filename);
    let master = read_master(&master_path);
    assert!(master.independent_segments);
    let heights: Vec<u64> = master
        .variants
        .iter()
        .filter_map(|v| v.resolution.map(|r| r.height))
        .collect();
    assert_eq!(
        heights,
        [720, 480, 360],
        "1080p is above the source and dropped"
    );
    for v in &master.variants {
        let average = v.average_bandwidth.expect("AVERAGE-BANDWIDTH");
        assert!(average > 0 && average <= v.bandwidth, "{v:?}");
        let codecs = v.codecs.as_deref().expect("CODECS");
        assert!(
            codecs.starts_with("avc1.64") && codecs.contains(",mp4a.40.2"),
            "{codecs}"
        );
        assert!(
            (v.frame_rate.expect("FRAME-RATE") - 30.0).abs() < 0.01,
            "{v:?}"
        );
        assert_eq!(
            v.audio.is_some(),
            cmaf,
            "only CMAF has an audio group: {v:?}"
        );
    }
    let mut playlists: Vec<String> = master.variants.iter().map(|v| v.uri.clone()).collect();
    if cmaf {
        assert_eq!(master.alternatives.len(), 1);
        let audio = &master.alternatives[0];
        assert_eq!(audio.media_type, m3u8_rs::AlternativeMediaType::Audio);
        assert_eq!(
            Some(audio.group_id.as_str()),
            master.variants[0].audio.as_deref()
        );
        playlists.push(audio.uri.clone().expect("the audio rendition's URI"));
    } else {
        assert!(master.alternatives.is_empty());
    }

    let scratch = tempfile::NamedTempFile::new().unwrap();
    let mut video_starts: Vec<Vec<f64>> = Vec::new();
    for uri in &playlists {
        let path = out_dir.join(uri);
        let dir = path.parent().unwrap();
        let media = read_media(&path);
        assert!(media.end_list, "{uri}: no EXT-X-ENDLIST");
        let total: f64 = media.segments.iter().map(|s| f64::from(s.duration)).sum();
        assert!(
            (total - f64::from(CLIP_SECONDS)).abs() < 0.2,
            "{uri}: {total} s"
        );
        let init = media.segments[0].map.as_ref().map(|m| m.uri.clone());
        assert_eq!(init.is_some(), cmaf, "{uri}: an init segment only for CMAF");
        let mut counts = Vec::new();
        for segment in &media.segments {
            assert!(
                f64::from(segment.duration) <= SEGMENT_SECONDS + 0.05,
                "{uri}: {segment:?}"
            );
            counts.push(probe_segment(
                dir,
                init.as_deref(),
                &segment.uri,
                scratch.path(),
            ));
        }
        let mut starts = Vec::new();
        if counts.iter().any(|&n| n > 0) {
            let files: Vec<PathBuf> = init
                .iter()
                .chain(media.segments.iter().map(|s| &s.uri))
                .map(|f| dir.join(f))
                .collect();
            join_files(&files, scratch.path());
            let packets = video_packets(scratch.path());
            assert_eq!(packets.len(), counts.iter().sum::<usize>(), "{uri}");
            let mut first = 0;
            for (segment, count) in media.segments.iter().zip(&counts) {
                let (pts, key) = packets[first];
                assert!(key, "{uri}: {} starts on a non-key frame", segment.uri);
                starts.push(pts);
                first += count;
            }
        }
        if !starts.is_empty() {
            video_starts.push(starts);
        }
    }
    assert_eq!(video_starts.len(), 3);
    assert!(video_starts[0].len() >= 2, "{video_starts:?}");
    for other in &video_starts[1..] {
        assert_eq!(other.len(), video_starts[0].len(), "{video_starts:?}");
        for (a, b) in other.iter().zip(&video_starts[0]) {
            assert!(
                (a - b).abs() < 0.001,
                "segments start at the same times: {video_starts:?}"
            );
        }
    }

    let master_file = master_path.to_str().unwrap();
    let (ok, _, err) = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            master_file,
            "-map",
            "0",
            "-f",
            "null",
            "-",
        ],
    );
    assert!(ok && err.is_empty(), "ffmpeg decoding {master_file}: {err}");

    let names: Vec<String> = result.renditions.iter().map(|r| r.name.clone()).collect();
    for r in &result.renditions {
        assert!(
            r.urls[0].ends_with(&format!("/{}/index.m3u8", r.name)),
            "{r:?}"
        );
        assert!(
            r.segments >= 2 && r.max_segment_seconds <= SEGMENT_SECONDS + 0.05,
            "{r:?}"
        );
        let media = r.media.as_ref().expect("a rung's media");
        assert!(
            (media.duration_seconds - f64::from(CLIP_SECONDS)).abs() < 0.2,
            "{r:?}"
        );
    }
    names
}

/// Submits `outputs` of `clip` into `out_dir` and waits for the job to succeed.
async fn succeeds_into(
    app: &common::TestApp,
    clip: &Path,
    outputs: Vec<pb::OutputSpec>,
    out_dir: &Path,
) -> pb::Job {
    let mut order = common::order(clip, outputs);
    order.destinations = vec![pb::Destination {
        uri: common::file_uri(out_dir),
        ..Default::default()
    }];
    let job = app.submit(order).await.unwrap();
    let done = tokio::time::timeout(Duration::from_secs(300), app.finish(&job.id))
        .await
        .expect("the job finishes within 300 s");
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_ladders_with_cmaf_and_ts_segments() {
    let clip = tokio::task::spawn_blocking(clip_8s_720p).await.unwrap();
    let app = spawn_app(Backend::Sqlite).await;
    let out_dir = media_dir().join(format!("hls-{}", uuid::Uuid::now_v7()));
    let outputs = vec![
        output("cmaf.m3u8", CMAF_PRESET),
        output("ts.m3u8", TS_PRESET),
    ];
    let done = succeeds_into(&app, &clip, outputs, &out_dir).await;

    let (cmaf, ts) = (done.outputs[0].clone(), done.outputs[1].clone());
    assert_eq!(cmaf.kind, "hls");
    let dir = out_dir.clone();
    let names = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::task::spawn_blocking(move || {
            (
                check_ladder(&dir, &cmaf, true),
                check_ladder(&dir, &ts, false),
            )
        }),
    )
    .await
    .expect("the checks finish within 600 s")
    .unwrap();
    assert_eq!(names.0, ["720p", "480p", "360p", "audio"]);
    assert_eq!(names.1, ["720p", "480p", "360p"]);
    let _ = std::fs::remove_dir_all(&out_dir);
    app.shutdown().await;
}

/// H.265 ladders, CMAF and TS: the master names HEVC in CODECS, a segment holds hevc, and
/// ffmpeg decodes the whole ladder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hevc_ladders_play() {
    let clip = tokio::task::spawn_blocking(clip_8s_720p).await.unwrap();
    let app = spawn_app(Backend::Sqlite).await;
    let mut client = app.client.clone();
    let mut outputs = Vec::new();
    for format in ["fmp4", "ts"] {
        let profile = pb::Profile {
            description: format!("hevc ladder {format}"),
            container: "hls".into(),
            video: Some(pb::VideoSettings {
                codec: "h265".into(),
                speed: "fastest".into(),
                ..Default::default()
            }),
            audio: Some(pb::AudioSettings {
                codec: "aac".into(),
                bitrate_kbps: 96,
                channels: 2,
                sample_rate: 48_000,
            }),
            streaming: Some(pb::StreamingSettings {
                segment_seconds: 4.0,
                segment_format: format.into(),
                rungs: vec![
                    pb::LadderRung {
                        width: 640,
                        height: 360,
                        bitrate_kbps: 600,
                    },
                    pb::LadderRung {
                        width: 320,
                        height: 180,
                        bitrate_kbps: 200,
                    },
                ],
            }),
            ..Default::default()
        };
        let saved = common::create_profile(&mut client, profile).await.unwrap();
        outputs.push(pb::OutputSpec {
            filename: format!("hevc-{format}.m3u8"),
            profile: Some(pb::output_spec::Profile::ProfileId(saved.id)),
            ..Default::default()
        });
    }
    let out_dir = media_dir().join(format!("hls-hevc-{}", uuid::Uuid::now_v7()));
    let done = succeeds_into(&app, &clip, outputs, &out_dir).await;
    for result in &done.outputs {
        let master_path = out_dir.join(&result.filename);
        let master = read_master(&master_path);
        assert_eq!(master.variants.len(), 2, "{}", result.filename);
        for variant in &master.variants {
            let codecs = variant.codecs.clone().unwrap_or_default().to_lowercase();
            assert!(
                codecs.starts_with("hvc1") || codecs.starts_with("hev1"),
                "{codecs}"
            );
        }
        assert_eq!(
            result.renditions[0].encoded.as_ref().unwrap().video_codec,
            "hevc"
        );
        assert_eq!(
            result.renditions[0].media.as_ref().unwrap().video_codec,
            "hevc",
            "the rung's probe"
        );
        let master_arg = master_path.to_string_lossy().into_owned();
        let (ok, _, stderr) = run(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-i",
                &master_arg,
                "-map",
                "0",
                "-f",
                "null",
                "-",
            ],
        );
        assert!(
            ok && stderr.trim().is_empty(),
            "{}: {stderr}",
            result.filename
        );
    }
    let _ = std::fs::remove_dir_all(&out_dir);
    app.shutdown().await;
}

/// A CMAF ladder beside file outputs on both tees (video and audio). Its sink prerolls
/// only once a whole fragment is muxed; before `async-handling`, the prerolled file
/// sinks filled their queues and starved it: the pipeline stalled (the demo's order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cmaf_ladder_beside_file_outputs_does_not_stall() {
    let clip = tokio::task::spawn_blocking(clip_8s_720p).await.unwrap();
    let app = common::spawn_app_with(
        Backend::Sqlite,
        common::AppOptions::configured(|s| s.limits.stall_timeout_seconds = 15),
    )
    .await;
    let out_dir = media_dir().join(format!("hls-mixed-{}", uuid::Uuid::now_v7()));
    let outputs = vec![
        output("film.mp4", "System preset: Generic 720p"),
        output("sound.m4a", "System preset: Audio only AAC 128k"),
        output("cmaf.m3u8", CMAF_PRESET),
    ];
    let done = succeeds_into(&app, &clip, outputs, &out_dir).await;
    assert!(out_dir.join("film.mp4").is_file());
    assert!(out_dir.join("sound.m4a").is_file());
    let (dir, cmaf) = (out_dir.clone(), done.outputs[2].clone());
    let rungs = tokio::task::spawn_blocking(move || check_ladder(&dir, &cmaf, true))
        .await
        .unwrap();
    assert_eq!(rungs, ["720p", "480p", "360p", "audio"]);
    let _ = std::fs::remove_dir_all(&out_dir);
    app.shutdown().await;
}
