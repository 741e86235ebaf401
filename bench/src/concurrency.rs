//! Section 2: 1, 2, 4 and 8 concurrent jobs on a `transcoder serve` child configured
//! for that many workers: output-seconds produced per wall-second.

use crate::BenchContext;
use crate::media::hard_clip;
use crate::report::{Check, Goal, SectionResult, Table, num};
use crate::rpc;
use crate::service_child::{ServiceChild, place_source, run_to_end};
use std::time::Instant;

const COUNTS: [usize; 4] = [1, 2, 4, 8];

pub async fn run(ctx: &BenchContext) -> anyhow::Result<SectionResult> {
    let (seconds, w, h) = if ctx.quick {
        (1, 320, 180)
    } else {
        (20, 1280, 720)
    };
    let source = ctx
        .clip(
            &format!("zoneplate-{seconds}s-{w}x{h}.mp4"),
            hard_clip(seconds, w, h),
        )
        .await?;
    let preset = if ctx.quick {
        "System preset: Generic 360p"
    } else {
        "System preset: Generic 480p"
    };
    let cores = transcoder::config::available_cores();
    let mut table = Table::new(
        "Concurrent jobs",
        &[
            "jobs",
            "wall s",
            "output-s / wall-s",
            "CPU s",
            "CPU use %",
            "peak RSS MiB",
        ],
    );
    table.note(format!(
        "Each row: `transcoder serve --workers N` (encoder threads = cores / N, at least 1), \
         N jobs of a {seconds} s {w}x{h} source to `{preset}` submitted at once; \
         wall from the first submission to the last SUCCEEDED. {cores} cores."
    ));
    let mut rates = Vec::new();
    for n in COUNTS {
        let dir = ctx.fresh_scratch(&format!("concurrency-{n}"))?;
        let placed = place_source(&source, &dir.join("media"))?;
        let service = ServiceChild::start(&ctx.transcoder, &dir, n).await?;
        let cpu_before = service.cpu_so_far()?;
        let started = Instant::now();
        let jobs =
            (0..n).map(|_| run_to_end(service.client.clone(), rpc::order(&placed, &[preset])));
        let finished = futures::future::try_join_all(jobs).await;
        let wall = started.elapsed().as_secs_f64();
        let lifetime = service.stop()?;
        let jobs = finished?;
        let produced: f64 = jobs
            .iter()
            .flat_map(|j| &j.outputs)
            .map(|o| o.media.as_ref().map_or(0.0, |m| m.duration_seconds))
            .sum();
        let cpu = lifetime.cpu.saturating_sub(cpu_before).as_secs_f64();
        rates.push((n, produced / wall));
        table.row(vec![
            n.to_string(),
            num(wall),
            num(produced / wall),
            num(cpu),
            num(cpu / wall / cores as f64 * 100.0),
            num(lifetime.peak_rss_kib as f64 / 1024.0),
        ]);
    }
    let at_cores = rates
        .iter()
        .filter(|(n, _)| *n <= cores)
        .map(|r| r.1)
        .fold(0.0, f64::max);
    let beyond = rates
        .iter()
        .filter(|(n, _)| *n > cores)
        .map(|r| r.1)
        .fold(f64::INFINITY, f64::min);
    let mut result = SectionResult::default();
    if beyond.is_finite() && at_cores > 0.0 {
        table.note("Target: the rate beyond the core count stays within 5% of the best rate up to it (run-to-run noise).");
        result.checks.push(Check::new(
            format!("Throughput beyond {cores} cores / best up to {cores}"),
            beyond / at_cores,
            "x",
            Goal::AtLeast(0.95),
        ));
    }
    result.tables.push(table);
    Ok(result)
}
