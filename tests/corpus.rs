//! The bad-media corpus: each damaged or hostile source, generated here, ends in the
//! outcome README.md's table gives it (a clear error code, or a correct output), on its
//! first attempt and well inside its deadline; the worker's peak memory stays bounded;
//! and a good job submitted after the corpus still succeeds.

mod common;
mod media_check;

use common::{AppOptions, Backend, TestApp, clip_5s, media_dir, output, spawn_app_with};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

const PRESET: &str = "System preset: Generic 360p";
/// Every corpus job fails at the probe or makes one 5 s clip; the slowest case is a
/// probe that hangs until `PROBE_TIMEOUT`.
const JOB_WAIT: Duration = Duration::from_secs(300);
const PROBE_TIMEOUT_SECONDS: u64 = 10;
/// Tighter than the default (600 s) so that "within its deadline" means something.
const DEADLINE_FLOOR_SECONDS: u64 = 60;
/// The probe (Discoverer) decodes a first frame before the limits can be checked, so
/// the 8000x8000 GIF costs one or two decoded 8000x8000 RGBA frames (244 MiB each;
/// measured: the peak grows by about 490 MiB over the corpus, all of it at the GIF).
/// Three such frames bound that; the 100000x100000 header, decoded, would take 37 GiB.
const PEAK_RSS_GROWTH_BOUND_KIB: u64 = 3 * 8000 * 8000 * 4 / 1024;

fn ffmpeg(args: &[&str], path: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// The clip with its index (moov) last, so a cut loses it.
fn index_last_clip() -> PathBuf {
    common::generated_clip(
        "corpus-index-last.mp4",
        &ClipSpec {
            faststart: false,
            ..ClipSpec::default()
        },
    )
}

/// Where each top-level MP4 box starts: (offset, type, size).
fn top_level_boxes(bytes: &[u8]) -> Vec<(usize, [u8; 4], usize)> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().unwrap();
        assert!(size >= 8, "a plain 32-bit box size at {at}");
        boxes.push((at, kind, size));
        at += size;
    }
    boxes
}

fn find_box(bytes: &[u8], kind: &[u8; 4]) -> (usize, usize) {
    top_level_boxes(bytes)
        .into_iter()
        .find(|(_, k, _)| k == kind)
        .map(|(at, _, size)| (at, size))
        .unwrap_or_else(|| panic!("a {} box", String::from_utf8_lossy(kind)))
}

/// One corpus file: its name and the outcome expected of it.
struct Case {
    name: &'static str,
    path: PathBuf,
    expected: Expected,
    /// What the error message must say, where the message is the service's own.
    message: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expected {
    Fails(&'static str),
    Succeeds,
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn corpus(dir: &Path) -> Vec<Case> {
    let invalid = Expected::Fails("INVALID_MEDIA");
    let over_limit = Expected::Fails("LIMIT_EXCEEDED");
    let mut cases = Vec::new();
    let mut add = |name, path, expected, message| {
        cases.push(Case {
            name,
            path,
            expected,
            message,
        })
    };

    add(
        "zero bytes",
        write(dir, "zero.mp4", &[]),
        invalid,
        Some("empty"),
    );
    add(
        "random bytes",
        common::random_bytes(),
        invalid,
        Some("not valid media"),
    );
    let whole = std::fs::read(index_last_clip()).unwrap();
    for percent in [10, 50, 90] {
        let cut = &whole[..whole.len() * percent / 100];
        let name = format!("cut-{percent}.mp4");
        let label = match percent {
            10 => "MP4 cut at 10 %",
            50 => "MP4 cut at 50 %",
            _ => "MP4 cut at 90 %",
        };
        // Told before Discoverer opens it (it sometimes hung on these until its timeout).
        add(
            label,
            write(dir, &name, cut),
            invalid,
            Some("has no index (moov)"),
        );
    }

    let mut no_moov = std::fs::read(clip_5s()).unwrap();
    let (moov_at, _) = find_box(&no_moov, b"moov");
    no_moov[moov_at + 4..moov_at + 8].copy_from_slice(b"free");
    add(
        "MP4 without its moov",
        write(dir, "no-moov.mp4", &no_moov),
        invalid,
        Some("has no index (moov box)"),
    );

    let text = "This is not a video, only text with an .mp4 name.\n".repeat(40);
    add(
        "text named .mp4",
        write(dir, "text.mp4", text.as_bytes()),
        invalid,
        Some("text file"),
    );

    let png = dir.join("still.mp4");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=s=320x240",
            "-frames:v",
            "1",
            "-c:v",
            "png",
            "-f",
            "image2",
            "-update",
            "1",
        ],
        &png,
    );
    add(
        "PNG named .mp4",
        png,
        invalid,
        Some("a still image (PNG), not a video"),
    );

    // A YUV4MPEG2 header is text: it claims 100000x100000 and one short frame follows.
    let mut huge_header = b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n".to_vec();
    huge_header.extend(std::iter::repeat_n(0x80u8, 64 * 1024));
    add(
        "header claiming 100000x100000",
        write(dir, "huge-header.y4m", &huge_header),
        invalid,
        Some("YUV4MPEG header"),
    );

    add(
        "2 KB MKV claiming ten hours",
        ten_hours_in_two_kilobytes(dir),
        over_limit,
        Some("36000.0 s, over limits.max_duration_seconds"),
    );

    let mut damaged = std::fs::read(clip_5s()).unwrap();
    let (mdat_at, mdat_size) = find_box(&damaged, b"mdat");
    let middle = mdat_at + mdat_size / 2;
    for byte in &mut damaged[middle..middle + 16 * 1024] {
        *byte ^= 0xA5;
    }
    add(
        "flipped bytes inside mdat",
        write(dir, "damaged-middle.mp4", &damaged),
        Expected::Succeeds,
        None,
    );

    let gif = dir.join("huge.gif");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=navy:s=8000x8000",
            "-frames:v",
            "1",
        ],
        &gif,
    );
    add(
        "8000x8000 GIF",
        gif,
        over_limit,
        Some("8000x8000 (64000000 pixels), over limits.max_pixels"),
    );

    add(
        "MKV with 64 tracks",
        many_tracks(dir, 64),
        over_limit,
        Some("64 streams, over limits.max_streams"),
    );
    cases
}

/// A one-frame MKV (about 2 KB) whose segment duration is patched to ten hours.
fn ten_hours_in_two_kilobytes(dir: &Path) -> PathBuf {
    let path = dir.join("ten-hours.mkv");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=s=64x64:r=25",
            "-t",
            "0.04",
            "-c:v",
            "mpeg4",
            "-bitexact",
            "-fflags",
            "+bitexact",
            "-f",
            "matroska",
        ],
        &path,
    );
    let mut bytes = std::fs::read(&path).unwrap();
    // The Duration element: ID 0x4489, an 8-byte float of TimecodeScale units (1 ms).
    let at = bytes
        .windows(3)
        .position(|w| w == [0x44, 0x89, 0x88])
        .expect("a Duration element");
    let ten_hours_ms = 10.0f64 * 3600.0 * 1000.0;
    bytes[at + 3..at + 11].copy_from_slice(&ten_hours_ms.to_be_bytes());
    assert!(bytes.len() < 4096, "a small file: {} bytes", bytes.len());
    std::fs::write(&path, bytes).unwrap();
    path
}

fn many_tracks(dir: &Path, tracks: usize) -> PathBuf {
    let path = dir.join(format!("tracks-{tracks}.mkv"));
    let mut args = vec!["-f", "lavfi", "-i", "sine=d=0.5"];
    for _ in 0..tracks {
        args.extend(["-map", "0:a"]);
    }
    args.extend(["-c:a", "flac", "-f", "matroska"]);
    ffmpeg(&args, &path);
    path
}

/// The process's peak resident set (VmHWM), in KiB: the app runs in this process.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn wait(app: &TestApp, job_id: &str) -> pb::Job {
    tokio::time::timeout(JOB_WAIT, app.finish(job_id))
        .await
        .expect("the job ends in time")
}

fn seconds_between(
    from: Option<prost_types::Timestamp>,
    to: Option<prost_types::Timestamp>,
) -> f64 {
    let (from, to) = (from.expect("a start time"), to.expect("an end time"));
    (to.seconds - from.seconds) as f64 + f64::from(to.nanos - from.nanos) / 1e9
}

/// The damaged-middle clip comes out whole: decoders conceal the damaged frames.
fn assert_correct_output(case: &str, done: &pb::Job) {
    let url = &done.outputs[0].urls[0];
    let probe = media_check::probe(&media_check::local_path(url));
    let video = probe.stream("video").expect("a video stream");
    assert_eq!((video.width, video.height), (640, 360), "{case}");
    media_check::assert_near(case, probe.duration(), 5.0, 0.3);
    assert!(probe.stream("audio").is_some(), "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_source_ends_as_the_policy_says_and_a_good_job_follows() {
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions::configured(|s| {
            // A retried file fault would show as a second attempt.
            s.workers.max_attempts = 2;
            s.limits.probe_timeout_seconds = PROBE_TIMEOUT_SECONDS;
            s.limits.job_deadline_floor_seconds = DEADLINE_FLOOR_SECONDS;
        }),
    )
    .await;
    let dir = tempfile::tempdir_in(media_dir()).unwrap();
    let cases = corpus(dir.path());
    // Warm up (GStreamer registry, encoders) so the peak measures the corpus alone.
    let warm = app
        .submit(common::order(&clip_5s(), vec![output("warm.mp4", PRESET)]))
        .await
        .unwrap();
    let warm = wait(&app, &warm.id).await;
    assert_eq!(
        warm.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        warm.error
    );
    let rss_before = peak_rss_kib();

    let mut jobs = Vec::new();
    for case in &cases {
        let order = common::order(&case.path, vec![output("out.mp4", PRESET)]);
        jobs.push(app.submit(order).await.unwrap());
    }
    for (case, job) in cases.iter().zip(&jobs) {
        let done = wait(&app, &job.id).await;
        let name = case.name;
        assert_eq!(
            done.attempts, 1,
            "{name}: a file fault is not retried: {done:?}"
        );
        let budget = DEADLINE_FLOOR_SECONDS as f64
            + app.settings().limits.job_deadline_factor
                * done
                    .source
                    .as_ref()
                    .map_or(0.0, |s| s.duration_seconds.min(3600.0));
        let took = seconds_between(done.started_at, done.finished_at);
        assert!(
            took < budget,
            "{name} took {took:.1} s of its {budget:.1} s"
        );
        match case.expected {
            Expected::Fails(code) => {
                assert_eq!(done.state, pb::JobState::Failed as i32, "{name}");
                let error = done.error.as_ref().expect("a failed job says why");
                assert_eq!(error.code, code, "{name}: {error:?}");
                assert!(!error.retryable, "{name}: {error:?}");
                assert!(!error.message.is_empty(), "{name}");
                assert!(done.outputs.iter().all(|o| o.urls.is_empty()), "{name}");
            }
            Expected::Succeeds => {
                assert_eq!(
                    done.state,
                    pb::JobState::Succeeded as i32,
                    "{name}: {:?}",
                    done.error
                );
                assert_correct_output(name, &done);
            }
        }
        if let Some(needle) = case.message {
            let message = done.error.map(|e| e.message).unwrap_or_default();
            assert!(message.contains(needle), "{name}: {message}");
        }
    }
    let rss_after = peak_rss_kib();
    eprintln!("peak RSS (VmHWM) before the corpus {rss_before} KiB, after {rss_after} KiB");
    assert!(
        rss_after - rss_before < PEAK_RSS_GROWTH_BOUND_KIB,
        "peak RSS grew from {rss_before} KiB to {rss_after} KiB"
    );

    let good = app
        .submit(common::order(&clip_5s(), vec![output("good.mp4", PRESET)]))
        .await
        .unwrap();
    let good = wait(&app, &good.id).await;
    assert_eq!(
        good.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        good.error
    );
    assert_eq!(good.attempts, 1);
    assert_correct_output("the good job after the corpus", &good);
    app.shutdown().await;
}
