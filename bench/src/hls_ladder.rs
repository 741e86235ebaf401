//! Section 1, HLS: the service's "HLS ladder (TS segments)" preset against one ffmpeg
//! command writing the same ladder (same rungs, x264 settings, AAC, segment length, key
//! frames forced at every segment boundary) with `-f hls -var_stream_map`.

use crate::BenchContext;
use crate::measure::{Usage, run_measured};
use crate::media_commands::X264ENC_VBV_MILLIS;
use crate::report::{Check, Goal, SectionResult, Table, num};
use crate::rpc;
use crate::service_child::{ServiceChild, place_source};
use std::path::Path;
use std::process::Command;
use transcoder::config::Settings;
use transcoder::domain::MediaInfo;
use transcoder::domain::order::OutputSpec;
use transcoder::domain::profile;
use transcoder::media::plan::{Rendition, Sink, plan_outputs};

const PRESET: &str = "System preset: HLS ladder (TS segments)";
const MASTER: &str = "ladder.m3u8";

/// The rungs the service plans for the preset (one job running, its encoder threads).
fn plan(info: &MediaInfo) -> anyhow::Result<Vec<Rendition>> {
    let profile = profile::system_preset_named(PRESET)
        .expect("system preset")
        .clone();
    let output = OutputSpec {
        filename: MASTER.into(),
        label: "hls".into(),
        profile,
        requested_preset: None,
        reference: String::new(),
    };
    let mut settings = Settings::default();
    settings.workers.concurrency = 1;
    Ok(plan_outputs(&[output], info, Path::new("."), settings.encoder_threads())?.renditions)
}

fn segment_seconds(renditions: &[Rendition]) -> f64 {
    match renditions.first().map(|r| &r.sink) {
        Some(Sink::Segments {
            segment_seconds, ..
        }) => *segment_seconds,
        _ => 6.0,
    }
}

/// The ladder as one ffmpeg command: one decode, a split, a scale and an x264 + AAC
/// encode per rung, segmented by the hls muxer into `dir/<height>p/`.
fn ffmpeg_ladder(source: &Path, renditions: &[Rendition], dir: &Path) -> anyhow::Result<Usage> {
    let seconds = segment_seconds(renditions);
    let mut filter = format!("[0:v]split={}", renditions.len());
    for i in 0..renditions.len() {
        filter += &format!("[s{i}]");
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-y", "-i"])
        .arg(source);
    let mut map = Vec::new();
    for (i, r) in renditions.iter().enumerate() {
        let v = r.video.as_ref().expect("a rung has video");
        filter += &format!(
            ";[s{i}]scale={}:{}:flags=bicubic,setsar=1,format=yuv420p[v{i}]",
            v.width, v.height
        );
        let k = v.rate.kbps();
        cmd.args(["-map", &format!("[v{i}]")]);
        cmd.args([
            &format!("-c:v:{i}"),
            "libx264",
            &format!("-preset:v:{i}"),
            v.encoder.x264_preset().unwrap_or("medium"),
            &format!("-profile:v:{i}"),
            v.encoder.h264_profile().unwrap_or("high"),
            &format!("-b:v:{i}"),
            &format!("{k}k"),
            &format!("-maxrate:v:{i}"),
            &format!("{k}k"),
            &format!("-bufsize:v:{i}"),
            &format!("{}k", k * X264ENC_VBV_MILLIS / 1000),
            &format!("-g:v:{i}"),
            &v.keyframe_interval_frames.to_string(),
            &format!("-threads:v:{i}"),
            &v.threads.to_string(),
        ]);
        let name = format!("{}p", v.height);
        match &r.audio {
            Some(a) => {
                cmd.args(["-map", "0:a:0"]);
                cmd.args([
                    &format!("-c:a:{i}"),
                    "aac",
                    &format!("-b:a:{i}"),
                    &a.bitrate_bps.to_string(),
                    &format!("-ar:a:{i}"),
                    &a.sample_rate.to_string(),
                    &format!("-ac:a:{i}"),
                    &a.channels.to_string(),
                ]);
                map.push(format!("v:{i},a:{i},name:{name}"));
            }
            None => map.push(format!("v:{i},name:{name}")),
        }
    }
    cmd.args(["-filter_complex", &filter]);
    cmd.args([
        "-force_key_frames",
        &format!("expr:gte(t,n_forced*{seconds})"),
        "-f",
        "hls",
        "-hls_time",
        &seconds.to_string(),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "mpegts",
        "-master_pl_name",
        MASTER,
        "-var_stream_map",
        &map.join(" "),
        "-hls_segment_filename",
    ]);
    cmd.arg(dir.join("%v/segment_%05d.ts"));
    cmd.arg(dir.join("%v/index.m3u8"));
    run_measured(&mut cmd, &dir.join("ffmpeg.log"))
}

async fn service_ladder(binary: &Path, source: &Path, dir: &Path) -> anyhow::Result<Usage> {
    let placed = place_source(source, &dir.join("media"))?;
    let service = ServiceChild::start(binary, dir, 1).await?;
    let mut order = rpc::order(&placed, &[PRESET]);
    order.outputs[0].filename = MASTER.into();
    crate::media::measured_job(service, order, dir).await
}

/// Decodes a master playlist and everything it names; true when ffmpeg says nothing.
fn decodes_cleanly(master: &Path) -> anyhow::Result<bool> {
    let log = master.with_extension("decode.log");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin", "-i"])
        .arg(master)
        .args(["-map", "0", "-f", "null", "-"]);
    run_measured(&mut cmd, &log)?;
    Ok(std::fs::read_to_string(&log)?.trim().is_empty())
}

pub async fn run_case(
    ctx: &BenchContext,
    source: &Path,
    info: &MediaInfo,
    result: &mut SectionResult,
) -> anyhow::Result<()> {
    let renditions = plan(info)?;
    let name = format!(
        "HLS ladder, TS segments ({})",
        renditions
            .iter()
            .filter_map(|r| r.video.as_ref().map(|v| format!("{}p", v.height)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut runs: [Vec<Usage>; 2] = Default::default();
    let mut root = ctx.fresh_scratch("media-hls")?;
    for round in 1..=ctx.rounds {
        root = ctx.fresh_scratch("media-hls")?;
        std::fs::create_dir_all(root.join("b"))?;
        eprintln!("  {name}, round {round}/{}: (a) service ...", ctx.rounds);
        runs[0].push(service_ladder(&ctx.transcoder, source, &root.join("a")).await?);
        eprintln!("  {name}, round {round}/{}: (b) ffmpeg ...", ctx.rounds);
        let (src, r, dir) = (source.to_owned(), renditions.clone(), root.join("b"));
        runs[1].push(tokio::task::spawn_blocking(move || ffmpeg_ladder(&src, &r, &dir)).await??);
    }
    let [a, b] = runs.map(|mut u| {
        u.sort_by_key(|u| u.wall);
        u.swap_remove(u.len() / 2)
    });
    let masters = [
        root.join("a/delivered").join(MASTER),
        root.join("b").join(MASTER),
    ];
    let clean = tokio::task::spawn_blocking(move || {
        masters
            .iter()
            .map(|m| decodes_cleanly(m))
            .collect::<anyhow::Result<Vec<bool>>>()
    })
    .await??;

    let mut table = Table::new(
        format!("Throughput, {name}"),
        &[
            "variant",
            "wall s",
            "CPU s",
            "speed x",
            "peak RSS MiB",
            "wall/(b)",
            "CPU/(b)",
            "RSS/(b)",
        ],
    );
    let media_seconds = info.duration_seconds;
    for (label, u) in [
        ("(a) service, SubmitJob to SUCCEEDED", &a),
        ("(b) ffmpeg -f hls, one command", &b),
    ] {
        table.row(vec![
            label.into(),
            num(u.wall.as_secs_f64()),
            num(u.cpu.as_secs_f64()),
            num(media_seconds / u.wall.as_secs_f64()),
            num(u.peak_rss_mib()),
            num(u.wall.as_secs_f64() / b.wall.as_secs_f64()),
            num(u.cpu.as_secs_f64() / b.cpu.as_secs_f64()),
            num(u.peak_rss_mib() / b.peak_rss_mib()),
        ]);
    }
    table.note(format!(
        "Preset \"{PRESET}\": {} s segments, key frames forced at every boundary (the \
         service: hlssink3's key unit requests; ffmpeg: -force_key_frames), AAC muxed into \
         every rung (encoded once per rung by both). The service also probes every rung, \
         writes the master playlist and delivers the tree to a file:// destination. ffmpeg \
         scales every rung from the source; the service cascades. Median of {} rounds by \
         wall time. `ffmpeg -v error -i <master> -map 0 -f null -` is silent for: (a) {}, (b) {}.",
        segment_seconds(&renditions),
        ctx.rounds,
        if clean[0] { "yes" } else { "NO" },
        if clean[1] { "yes" } else { "NO" },
    ));
    result.tables.push(table);
    result.checks.push(Check::new(
        format!("{name}: the service's master playlist decodes without an error"),
        if clean[0] { 1.0 } else { 0.0 },
        "(1 = yes)",
        Goal::AtLeast(1.0),
    ));
    result.checks.push(Check::new(
        format!("Wall (a)/(b), {name}"),
        a.wall.as_secs_f64() / b.wall.as_secs_f64(),
        "x",
        Goal::AtMost(1.1),
    ));
    Ok(())
}
