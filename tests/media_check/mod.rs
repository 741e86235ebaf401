//! Checks written media with ffprobe (independent of GStreamer), and generates the
//! clips these checks start from.
#![allow(dead_code)]

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use transcoder::test_support::clip::{ClipSpec, generate_clip};

#[derive(Debug, Deserialize)]
pub struct Probe {
    pub streams: Vec<Stream>,
    pub format: Format,
}

#[derive(Debug, Deserialize)]
pub struct Stream {
    pub codec_type: String,
    pub codec_name: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    #[serde(default)]
    pub avg_frame_rate: String,
    #[serde(default)]
    pub sample_rate: Option<String>,
    #[serde(default)]
    pub channels: u32,
    /// Absent in Matroska, whose streams declare no duration of their own.
    #[serde(default)]
    pub duration: Option<String>,
    /// "yuv420p", "yuv420p10le"...
    #[serde(default)]
    pub pix_fmt: String,
    /// "progressive", "tt", "bb"...; absent when the stream does not say.
    #[serde(default)]
    pub field_order: Option<String>,
    /// "32:27"; absent when the stream does not say (square).
    #[serde(default)]
    pub sample_aspect_ratio: Option<String>,
    /// "High", "High 10", "Main 10", "Profile 2"...
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub tags: std::collections::HashMap<String, String>,
    /// Display matrices and the like: `{"side_data_type": "Display Matrix", "rotation": -90}`.
    #[serde(default)]
    pub side_data_list: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct Format {
    pub format_name: String,
    pub duration: String,
    pub size: String,
    #[serde(default)]
    pub bit_rate: Option<String>,
}

impl Probe {
    pub fn duration(&self) -> f64 {
        self.format.duration.parse().unwrap()
    }

    pub fn stream(&self, codec_type: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.codec_type == codec_type)
    }

    /// The whole file's bitrate: the container's, or size x 8 / duration.
    pub fn bitrate_bps(&self) -> f64 {
        match self.format.bit_rate.as_deref().map(str::parse::<f64>) {
            Some(Ok(bps)) => bps,
            _ => self.format.size.parse::<f64>().unwrap() * 8.0 / self.duration(),
        }
    }
}

impl Stream {
    /// "15/1" as 15.0.
    pub fn frame_rate(&self) -> f64 {
        let (num, den) = self.avg_frame_rate.split_once('/').unwrap();
        num.parse::<f64>().unwrap() / den.parse::<f64>().unwrap()
    }

    /// The rotation a player applies, in degrees: the display matrix's or the legacy
    /// `rotate` tag's; 0 when the stream has neither.
    pub fn rotation(&self) -> i64 {
        let from_matrix = self
            .side_data_list
            .iter()
            .find_map(|d| d.get("rotation")?.as_i64());
        let from_tag = self.tags.get("rotate").and_then(|r| r.parse().ok());
        from_matrix.or(from_tag).unwrap_or(0)
    }

    /// Width over height as shown: the stored size stretched by the sample aspect ratio.
    pub fn display_aspect(&self) -> f64 {
        let sar = self
            .sample_aspect_ratio
            .as_deref()
            .and_then(|r| r.split_once(':'))
            .and_then(|(n, d)| Some(n.parse::<f64>().ok()? / d.parse::<f64>().ok()?))
            .filter(|r| *r > 0.0)
            .unwrap_or(1.0);
        f64::from(self.width) * sar / f64::from(self.height)
    }
}

/// Runs `ffmpeg -y -v error ARGS OUTPUT`: sources that GStreamer's encoders cannot make
/// (rotation tags, interlaced and 10-bit H.264, variable frame rates, GIF).
pub fn ffmpeg_to(args: &[&str], output: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-nostdin"])
        .args(args)
        .arg(output)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {out:?}");
}

/// Makes `name` in `media_dir` once with `make` (written beside, then renamed, as `clip`).
/// Tests of one binary run on two threads: one makes a file while the other waits for it.
pub fn made_once(media_dir: &Path, name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let path = media_dir.join(name);
    if !path.exists() {
        let partial = media_dir.join(format!("partial-{}-{name}", std::process::id()));
        make(&partial);
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

/// The frames of the first video stream, decoded and counted.
pub fn frame_count(path: &Path) -> u64 {
    let count = ffprobe(
        &[
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ],
        path,
    );
    count.trim().trim_end_matches(',').parse().unwrap()
}

/// Mean luma (0-255) of the first frame's quadrants: top-left, top-right, bottom-left,
/// bottom-right; as a player shows it (`turned`: rotation metadata applied) or as stored.
pub fn quadrant_luma(path: &Path, turned: bool) -> [f64; 4] {
    let probed = probe(path);
    let video = probed.stream("video").expect("a picture");
    let (mut width, mut height) = (video.width as usize, video.height as usize);
    if turned && video.rotation() % 180 != 0 {
        std::mem::swap(&mut width, &mut height);
    }
    // ffmpeg applies rotation metadata unless told not to.
    let rotation = if turned { None } else { Some("-noautorotate") };
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(rotation)
        .arg("-i")
        .arg(path)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "{out:?}");
    let luma = out.stdout;
    assert_eq!(luma.len(), width * height, "{}", path.display());
    let mut sums = [0u64; 4];
    for (index, value) in luma.iter().enumerate() {
        let (x, y) = (index % width, index / width);
        let quadrant = usize::from(x >= width / 2) + 2 * usize::from(y >= height / 2);
        sums[quadrant] += u64::from(*value);
    }
    sums.map(|sum| sum as f64 / (width * height / 4) as f64)
}

fn ffprobe(args: &[&str], path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {}: {out:?}", path.display());
    String::from_utf8(out.stdout).unwrap()
}

/// ffprobe -show_streams -show_format.
pub fn probe(path: &Path) -> Probe {
    let json = ffprobe(&["-show_streams", "-show_format", "-of", "json"], path);
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// One stream's bitrate ("v" or "a"), from its packets' sizes over its duration (the
/// file's when the stream declares none): every container gives it, whether or not it
/// declares a per-stream bitrate.
pub fn stream_bitrate_bps(path: &Path, kind: &str) -> f64 {
    let sizes = ffprobe(
        &[
            "-select_streams",
            &format!("{kind}:0"),
            "-show_entries",
            "packet=size",
            "-of",
            "csv=p=0",
        ],
        path,
    );
    let bytes: u64 = sizes
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_end_matches(',').parse::<u64>().unwrap())
        .sum();
    let probed = probe(path);
    let codec_type = if kind == "v" { "video" } else { "audio" };
    let seconds = probed
        .stream(codec_type)
        .and_then(|s| s.duration.as_deref()?.parse::<f64>().ok())
        .unwrap_or_else(|| probed.duration());
    bytes as f64 * 8.0 / seconds
}

/// `actual` within `tolerance` (a fraction) of `expected`.
pub fn assert_near(what: &str, actual: f64, expected: f64, tolerance: f64) {
    let deviation = (actual - expected) / expected;
    assert!(
        deviation.abs() <= tolerance,
        "{what}: {actual:.0} is {:+.1}% off {expected:.0} (tolerance {:.0}%)",
        deviation * 100.0,
        tolerance * 100.0
    );
}

pub fn local_path(url: &str) -> PathBuf {
    url::Url::parse(url).unwrap().to_file_path().unwrap()
}

/// Generates `name` in the shared media dir once (written beside, then renamed, so a
/// crash never leaves a broken clip for later runs).
pub fn clip(media_dir: &Path, name: &str, spec: &ClipSpec) -> PathBuf {
    made_once(media_dir, name, |partial| {
        generate_clip(partial, spec).unwrap()
    })
}

/// Moving colour bars: detailed enough that every encoder spends its bitrate (a bouncing
/// ball on black leaves them far below any target).
pub const BUSY_PICTURE: &str = "pattern=smpte horizontal-speed=4";

/// Pink noise: every audio encoder spends its whole bitrate (ticks leave them near idle).
pub const BUSY_SOUND: &str = "wave=pink-noise";
