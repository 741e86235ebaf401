//! Section 5: enqueue-to-start latency with an idle worker of a `transcoder serve`
//! child: from the job's creation (stamped when SubmitJob accepts it) to its RUNNING
//! state event, both the server's clock.

use crate::BenchContext;
use crate::report::{Check, Goal, SectionResult, Table, num, percentile};
use crate::rpc;
use crate::service_child::{ServiceChild, place_source};
use std::time::Duration;
use transcoder::proto as pb;
use transcoder::proto::job_event::Kind;

pub async fn run(ctx: &BenchContext) -> anyhow::Result<SectionResult> {
    let jobs = if ctx.quick { 10 } else { 200 };
    // Audio-only output of a 1 s clip: a real job that ends fast, so the worker is idle
    // again quickly and many samples fit in little time.
    let dir = ctx.fresh_scratch("start-latency")?;
    let source = place_source(&ctx.tiny_clip().await?, &dir)?;
    let order = rpc::order(&source, &["System preset: Audio only AAC 128k"]);
    let mut table = Table::new(
        "Enqueue-to-start latency (idle worker, SQLite)",
        &["jobs", "p50 ms", "p99 ms", "max ms"],
    );
    table.note(
        "Latency = the job's RUNNING event time minus its created_at. Each job is submitted \
         once the previous one has finished and the worker has gone idle (20 ms pause).",
    );
    let service = ServiceChild::start(&ctx.transcoder, &dir, 1).await?;
    let mut client = service.client.clone();
    let mut latencies = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (job, mut events) = rpc::submit_and_watch(&mut client, order.clone()).await?;
        let created = rpc::timestamp(job.created_at.as_ref());
        let mut started = None;
        while let Some(event) = events.message().await? {
            match event.kind {
                Some(Kind::StateChanged(s))
                    if s.state == pb::JobState::Running as i32 && started.is_none() =>
                {
                    started = Some(rpc::timestamp(event.time.as_ref()));
                }
                Some(Kind::JobFinished(f)) => {
                    anyhow::ensure!(
                        f.state == pb::JobState::Succeeded as i32,
                        "bench job {} failed: {:?}",
                        job.id,
                        f.error
                    );
                }
                _ => {}
            }
        }
        let started = started.ok_or_else(|| anyhow::anyhow!("job {} never ran", job.id))?;
        latencies.push((started - created).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    service.stop()?;
    latencies.sort_by(f64::total_cmp);
    let p99 = percentile(&latencies, 99.0);
    table.row(vec![
        jobs.to_string(),
        num(percentile(&latencies, 50.0)),
        num(p99),
        num(*latencies.last().unwrap_or(&f64::NAN)),
    ]);
    Ok(SectionResult {
        tables: vec![table],
        checks: vec![Check::new(
            "Enqueue-to-start p99",
            p99,
            "ms",
            Goal::AtMost(50.0),
        )],
    })
}
