//! Section 1: media throughput, side by side on one generated source: (a) the service
//! end to end, (b) one ffmpeg command for every output, (c) one ffmpeg command per
//! output, (d) a bare gst-launch of the service's pipeline; for one output and a ladder.

use crate::BenchContext;
use crate::measure::Usage;
use crate::media_commands::{self as cmds, output_in};
use crate::report::{Check, Goal, SectionResult, Table, num};
use crate::rpc;
use crate::service_child::{ServiceChild, place_source, run_to_end};
use std::path::{Path, PathBuf};
use std::time::Instant;
use transcoder::config::Settings;
use transcoder::domain::order::OutputSpec;
use transcoder::domain::profile;
use transcoder::media::plan::{Rendition, plan_outputs};
use transcoder::test_support::clip::ClipSpec;

struct Case {
    name: &'static str,
    slug: &'static str,
    presets: &'static [&'static str],
    /// Target for wall(a) / wall(b).
    wall_ratio_goal: f64,
}

/// Tiny stand-ins for --quick: same code, small outputs.
const QUICK_CASES: [Case; 2] = [
    Case {
        name: "one output (360p, quick)",
        slug: "one",
        presets: &["System preset: Generic 360p"],
        wall_ratio_goal: 1.03,
    },
    Case {
        name: "ladder (480p, 360p, quick)",
        slug: "ladder",
        presets: &["System preset: Generic 480p", "System preset: Generic 360p"],
        wall_ratio_goal: 0.95,
    },
];

const CASES: [Case; 2] = [
    Case {
        name: "one output (720p)",
        slug: "one",
        presets: &["System preset: Generic 720p"],
        wall_ratio_goal: 1.03,
    },
    Case {
        name: "ladder (1080p, 720p, 480p)",
        slug: "ladder",
        presets: &[
            "System preset: Generic 1080p",
            "System preset: Generic 720p",
            "System preset: Generic 480p",
        ],
        wall_ratio_goal: 0.95,
    },
];

/// A moving zone plate: detail everywhere, motion everywhere, unlike a ball on black.
pub fn hard_clip(seconds: u32, width: u32, height: u32) -> ClipSpec {
    ClipSpec {
        seconds,
        width,
        height,
        video_source_properties: "pattern=zone-plate kx2=20 ky2=20 kt=1".into(),
        video_bitrate_kbps: 8000,
        ..ClipSpec::default()
    }
}

pub async fn run(ctx: &BenchContext) -> anyhow::Result<SectionResult> {
    let (w, h) = if ctx.quick { (320, 180) } else { (1920, 1080) };
    let secs = ctx.media_seconds;
    let source = ctx
        .clip(
            &format!("zoneplate-{secs}s-{w}x{h}.mp4"),
            hard_clip(secs, w, h),
        )
        .await?;
    let probed = source.clone();
    let info =
        tokio::task::spawn_blocking(move || transcoder::media::probe::probe_file(&probed, 30))
            .await??;
    let mut result = SectionResult::default();
    let wanted = |slug: &str| ctx.media_cases.iter().any(|c| c == slug);
    for case in if ctx.quick { &QUICK_CASES } else { &CASES } {
        if wanted(case.slug) {
            run_case(ctx, case, &source, &info, &mut result).await?;
        }
    }
    if wanted("hls") {
        crate::hls_ladder::run_case(ctx, &source, &info, &mut result).await?;
    }
    Ok(result)
}

/// The renditions the service plans for `presets` with one job running (its default
/// encoder threads for one worker), so every command gets the same values.
fn plan(presets: &[&str], info: &transcoder::domain::MediaInfo) -> anyhow::Result<Vec<Rendition>> {
    let outputs: Vec<OutputSpec> = presets
        .iter()
        .map(|p| {
            let profile = profile::system_preset_named(p)
                .expect("system preset")
                .clone();
            let label = format!("{}p", profile.video.as_ref().map_or(0, |v| v.height));
            OutputSpec {
                filename: format!("out-{label}.mp4"),
                label,
                profile,
                requested_preset: None,
                reference: String::new(),
            }
        })
        .collect();
    let mut settings = Settings::default();
    settings.workers.concurrency = 1;
    Ok(plan_outputs(&outputs, info, Path::new("."), settings.encoder_threads())?.renditions)
}

async fn run_case(
    ctx: &BenchContext,
    case: &Case,
    source: &Path,
    info: &transcoder::domain::MediaInfo,
    result: &mut SectionResult,
) -> anyhow::Result<()> {
    let renditions = plan(case.presets, info)?;
    let mut runs: [Vec<Usage>; 4] = Default::default();
    let mut dirs = Vec::new();
    for round in 1..=ctx.rounds {
        // Fresh output dirs each round; the last round's outputs are checked below.
        let root = ctx.fresh_scratch(&format!("media-{}", case.slug))?;
        dirs = ["a", "b", "c", "d"].iter().map(|v| root.join(v)).collect();
        for d in &dirs[1..] {
            std::fs::create_dir_all(d)?;
        }
        let of = format!("round {round}/{}", ctx.rounds);
        eprintln!("  {}, {of}: (a) service ...", case.name);
        runs[0].push(service_run(ctx, source, case, &renditions, &dirs[0]).await?);
        let blocking = |f: fn(&Path, &[Rendition], &Path) -> anyhow::Result<Usage>,
                        dir: PathBuf| {
            let (source, renditions) = (source.to_owned(), renditions.clone());
            tokio::task::spawn_blocking(move || f(&source, &renditions, &dir))
        };
        eprintln!("  {}, {of}: (b) ffmpeg, one command ...", case.name);
        runs[1].push(blocking(cmds::ffmpeg_all, dirs[1].clone()).await??);
        eprintln!(
            "  {}, {of}: (c) ffmpeg, one command per output ...",
            case.name
        );
        runs[2].push(blocking(cmds::ffmpeg_each, dirs[2].clone()).await??);
        eprintln!("  {}, {of}: (d) gst-launch ...", case.name);
        runs[3].push(blocking(cmds::gst_launch, dirs[3].clone()).await??);
    }
    let [a, b, c, d] = runs.map(median_by_wall);

    let media_seconds = info.duration_seconds;
    let mut table = Table::new(
        format!("Throughput, {}", case.name),
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
    let names = [
        "(a) service, SubmitJob to SUCCEEDED",
        "(b) ffmpeg, one command",
        "(c) ffmpeg, one command per output",
        "(d) gst-launch-1.0",
    ];
    for (name, u) in names.iter().zip([&a, &b, &c, &d]) {
        table.row(vec![
            name.to_string(),
            num(u.wall.as_secs_f64()),
            num(u.cpu.as_secs_f64()),
            num(media_seconds / u.wall.as_secs_f64()),
            num(u.peak_rss_mib()),
            num(u.wall.as_secs_f64() / b.wall.as_secs_f64()),
            num(u.cpu.as_secs_f64() / b.cpu.as_secs_f64()),
            num(u.peak_rss_mib() / b.peak_rss_mib()),
        ]);
    }
    let v = renditions[0].video.as_ref().expect("video presets");
    table.note(format!(
        "Source: {media_seconds:.1} s {}x{} 30 fps zone plate + AAC. x264 preset {}, ABR with \
         VBV max = bitrate, keyint {}, {} threads per encoder; AAC {} bit/s {} Hz {} ch. \
         (a) runs `transcoder serve --workers 1` as a child process: CPU is the process's \
         CPU from submission to exit, RSS its peak; wall includes probing, delivery to a \
         file:// destination and re-probing outputs. (c) runs its commands one after another. \
         Each variant's median of {} interleaved rounds, by wall time.",
        info.video.as_ref().map_or(0, |s| s.width),
        info.video.as_ref().map_or(0, |s| s.height),
        v.encoder.x264_preset().unwrap_or("-"),
        v.keyframe_interval_frames,
        v.threads,
        renditions[0].audio.as_ref().map_or(0, |a| a.bitrate_bps),
        renditions[0].audio.as_ref().map_or(0, |a| a.sample_rate),
        renditions[0].audio.as_ref().map_or(0, |a| a.channels),
        ctx.rounds,
    ));
    result.tables.push(table);
    result.checks.push(Check::new(
        format!("Wall (a)/(b), {}", case.name),
        a.wall.as_secs_f64() / b.wall.as_secs_f64(),
        "x",
        Goal::AtMost(case.wall_ratio_goal),
    ));

    settings_and_quality(case, source, &renditions, &dirs, result).await
}

/// The run with the median wall time (the upper one of an even count).
fn median_by_wall(mut runs: Vec<Usage>) -> Usage {
    runs.sort_by_key(|u| u.wall);
    runs.swap_remove(runs.len() / 2)
}

/// Runs the case through a `transcoder serve` child; outputs land in `dir/delivered`.
async fn service_run(
    ctx: &BenchContext,
    source: &Path,
    case: &Case,
    renditions: &[Rendition],
    dir: &Path,
) -> anyhow::Result<Usage> {
    let placed = place_source(source, &dir.join("media"))?;
    let service = ServiceChild::start(&ctx.transcoder, dir, 1).await?;
    let mut order = rpc::order(&placed, case.presets);
    for (spec, r) in order.outputs.iter_mut().zip(renditions) {
        spec.filename = r
            .path()
            .and_then(Path::file_name)
            .expect("file outputs")
            .to_string_lossy()
            .into_owned();
    }
    measured_job(service, order, dir).await
}

/// Runs `order` on the `service` child with its outputs delivered to `dir/delivered`,
/// and measures it: wall time from SubmitJob to the end, the child's CPU over that time,
/// its peak RSS. Stops the child.
pub async fn measured_job(
    service: ServiceChild,
    mut order: transcoder::proto::Order,
    dir: &Path,
) -> anyhow::Result<Usage> {
    let delivered = dir.join("delivered");
    std::fs::create_dir_all(&delivered)?;
    order.destinations = vec![transcoder::proto::Destination {
        uri: url::Url::from_directory_path(&delivered)
            .expect("absolute")
            .to_string(),
        ..Default::default()
    }];
    let cpu_before = service.cpu_so_far()?;
    let started = Instant::now();
    let job = run_to_end(service.client.clone(), order).await;
    let wall = started.elapsed();
    let lifetime = service.stop()?;
    job?;
    Ok(Usage {
        wall,
        cpu: lifetime.cpu.saturating_sub(cpu_before),
        peak_rss_kib: lifetime.peak_rss_kib,
    })
}

async fn settings_and_quality(
    case: &Case,
    source: &Path,
    renditions: &[Rendition],
    dirs: &[PathBuf],
    result: &mut SectionResult,
) -> anyhow::Result<()> {
    let outputs = |r: &Rendition| -> Vec<PathBuf> {
        let mut v = vec![output_in(&dirs[0].join("delivered"), r)];
        v.extend(dirs[1..].iter().map(|d| output_in(d, r)));
        v
    };
    let mut settings = Table::new(
        format!("x264 settings read back from the streams, {}", case.name),
        &["output", "(b) vs (a)", "(c) vs (a)", "(d) vs (a)"],
    );
    let mut quality = Table::new(
        format!("Quality, {}", case.name),
        &["output", "PSNR (a) dB", "PSNR (b) dB", "(a) - (b) dB"],
    );
    quality.note("Average PSNR (Y, U, V) of each output against the source scaled (bicubic) to its size, ffmpeg's psnr filter.");
    let mut worst_delta = f64::INFINITY;
    let mut all_match = true;
    for r in renditions {
        let paths = outputs(r);
        let reference = cmds::x264_options(&paths[0])?;
        let mut row = vec![r.label.clone()];
        for p in &paths[1..] {
            let diff = cmds::option_differences(&reference, &cmds::x264_options(p)?);
            if diff.is_empty() {
                row.push("identical".into());
            } else {
                all_match = false;
                eprintln!(
                    "!!! x264 SETTINGS MISMATCH for {} ({}): {}",
                    r.label,
                    p.display(),
                    diff.join(", ")
                );
                row.push(format!("DIFFERENT: {}", diff.join(", ")));
            }
        }
        settings.row(row);
        let v = r.video.as_ref().expect("video");
        let (pa, pb) = (
            cmds::psnr(&paths[0], source, v.width, v.height)?,
            cmds::psnr(&paths[1], source, v.width, v.height)?,
        );
        worst_delta = worst_delta.min(pa - pb);
        quality.row(vec![
            r.label.clone(),
            num(pa),
            num(pb),
            format!("{:+.2}", pa - pb),
        ]);
    }
    settings.note(format!(
        "x264 options of (a): {}",
        cmds::x264_options(&outputs(&renditions[0])[0])?
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    result.tables.push(settings);
    result.tables.push(quality);
    result.checks.push(Check::new(
        format!("x264 settings identical, {}", case.name),
        if all_match { 1.0 } else { 0.0 },
        "(1 = yes)",
        Goal::AtLeast(1.0),
    ));
    result.checks.push(Check::new(
        format!("Worst PSNR (a) - (b), {}", case.name),
        worst_delta,
        "dB",
        Goal::AtLeast(-0.1),
    ));
    Ok(())
}
