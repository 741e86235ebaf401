//! Command lines equivalent to the service's pipeline, generated from the same plan
//! values the service uses (size, bitrate, keyframe interval, threads, speed preset,
//! H.264 profile, AAC settings); x264's options read back from the outputs; PSNR.

use crate::measure::{Usage, run_measured};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use transcoder::media::pipeline::SCALE_METHOD;
use transcoder::media::plan::{Rendition, is_scale_source};

/// x264enc in CBR mode caps the rate with a VBV of `vbv-buf-capacity` (default 600 ms).
pub const X264ENC_VBV_MILLIS: u32 = 600;

/// Where a rendition's output goes for one variant.
pub fn output_in(dir: &Path, rendition: &Rendition) -> PathBuf {
    dir.join(
        rendition
            .path()
            .and_then(Path::file_name)
            .expect("output has a file name"),
    )
}

fn ffmpeg_output_args(rendition: &Rendition, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if let Some(v) = &rendition.video {
        let k = v.rate.kbps();
        args.extend(
            [
                "-map",
                "0:v:0",
                "-vf",
                &format!("scale={}:{}:flags=bicubic,setsar=1", v.width, v.height),
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-preset",
                v.encoder.x264_preset().unwrap_or("medium"),
                "-profile:v",
                v.encoder.h264_profile().unwrap_or("high"),
                "-b:v",
                &format!("{k}k"),
                "-maxrate",
                &format!("{k}k"),
                "-bufsize",
                &format!("{}k", k * X264ENC_VBV_MILLIS / 1000),
                "-g",
                &v.keyframe_interval_frames.to_string(),
                "-threads",
                &v.threads.to_string(),
            ]
            .map(String::from),
        );
    }
    if let Some(a) = &rendition.audio {
        args.extend(
            [
                "-map",
                "0:a:0",
                "-c:a",
                "aac",
                "-b:a",
                &a.bitrate_bps.to_string(),
                "-ar",
                &a.sample_rate.to_string(),
                "-ac",
                &a.channels.to_string(),
            ]
            .map(String::from),
        );
    }
    args.extend(["-movflags", "+faststart"].map(String::from));
    args.push(out.display().to_string());
    args
}

/// (b): one ffmpeg command producing every output (one decode).
pub fn ffmpeg_all(source: &Path, renditions: &[Rendition], dir: &Path) -> anyhow::Result<Usage> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-y", "-i"])
        .arg(source);
    for r in renditions {
        cmd.args(ffmpeg_output_args(r, &output_in(dir, r)));
    }
    run_measured(&mut cmd, &dir.join("ffmpeg.log"))
}

/// (c): one ffmpeg command per output, run one after the other.
pub fn ffmpeg_each(source: &Path, renditions: &[Rendition], dir: &Path) -> anyhow::Result<Usage> {
    let mut total = Usage::default();
    for (i, r) in renditions.iter().enumerate() {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-y", "-i"])
            .arg(source);
        cmd.args(ffmpeg_output_args(r, &output_in(dir, r)));
        total = total.then(run_measured(
            &mut cmd,
            &dir.join(format!("ffmpeg-{i}.log")),
        )?);
    }
    Ok(total)
}

/// The service's pipeline (src/media/pipeline.rs) as one gst-launch description.
pub fn gst_description(source: &Path, renditions: &[Rendition], dir: &Path) -> String {
    let mut d = format!(
        "filesrc location={} ! decodebin name=dec \
         dec. ! video/x-raw ! tee name=vt dec. ! audio/x-raw ! tee name=at",
        source.display()
    );
    for (i, r) in renditions.iter().enumerate() {
        let mux = format!("mux{i}");
        d += &format!(
            " mp4mux name={mux} faststart=true ! filesink sync=false location={}",
            output_in(dir, r).display()
        );
        if let Some(v) = &r.video {
            let feed = v.scale_from.map_or("vt".to_string(), |p| format!("st{p}"));
            let scaled_out = if is_scale_source(renditions, i) {
                format!(" ! tee name=st{i}")
            } else {
                String::new()
            };
            d += &format!(
                " {feed}. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 \
                 ! videoconvert ! videoscale method={SCALE_METHOD} \
                 ! video/x-raw,format=I420,width={},height={},pixel-aspect-ratio=1/1{scaled_out} \
                 ! x264enc bitrate={} threads={} key-int-max={} speed-preset={} \
                 ! video/x-h264,profile={} ! h264parse ! {mux}.",
                v.width,
                v.height,
                v.rate.kbps(),
                v.threads,
                v.keyframe_interval_frames,
                v.encoder.x264_preset().unwrap_or("medium"),
                v.encoder.h264_profile().unwrap_or("high")
            );
        }
        if let Some(a) = &r.audio {
            d += &format!(
                " at. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 \
                 ! audioconvert ! audioresample ! audio/x-raw,rate={},channels={} \
                 ! avenc_aac bitrate={} ! aacparse ! {mux}.",
                a.sample_rate, a.channels, a.bitrate_bps
            );
        }
    }
    d
}

/// (d): a bare gst-launch-1.0 running the same pipeline.
pub fn gst_launch(source: &Path, renditions: &[Rendition], dir: &Path) -> anyhow::Result<Usage> {
    let description = gst_description(source, renditions, dir);
    anyhow::ensure!(
        !source.to_string_lossy().contains(' ') && !dir.to_string_lossy().contains(' '),
        "gst-launch takes one token per argument: paths must not hold spaces"
    );
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.arg("-q").args(description.split_whitespace());
    run_measured(&mut cmd, &dir.join("gst-launch.log"))
}

/// The options x264 wrote into the stream (its SEI), as key -> value.
pub fn x264_options(file: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let marker = b"x264 - core";
    let start = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .with_context(|| format!("{} has no x264 SEI", file.display()))?;
    let end = bytes[start..]
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes.len(), |n| start + n);
    let text = String::from_utf8_lossy(&bytes[start..end]);
    let options = text.split_once("options: ").map_or("", |(_, o)| o);
    Ok(options
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Every option whose value differs, as `key: a vs b`.
pub fn option_differences(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) -> Vec<String> {
    let none = String::from("-");
    a.keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|k| {
            let (va, vb) = (a.get(k).unwrap_or(&none), b.get(k).unwrap_or(&none));
            (va != vb).then(|| format!("{k}: {va} vs {vb}"))
        })
        .collect()
}

/// Average PSNR (dB) of `output` against the source scaled to the output's size.
pub fn psnr(output: &Path, source: &Path, width: u32, height: u32) -> anyhow::Result<f64> {
    let log = output.with_extension("psnr.log");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-i"])
        .arg(output)
        .arg("-i")
        .arg(source)
        .arg("-lavfi")
        .arg(format!(
            "[1:v]scale={width}:{height}:flags=bicubic[ref];[0:v][ref]psnr"
        ))
        .args(["-f", "null", "-"]);
    run_measured(&mut cmd, &log)?;
    let text = std::fs::read_to_string(&log)?;
    text.lines()
        .filter(|l| l.contains("PSNR y:"))
        .filter_map(|l| {
            l.split("average:")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .next_back()
        .with_context(|| format!("no PSNR in {}", log.display()))
}
