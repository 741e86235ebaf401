//! Section 3: SubmitJob, GetJob and ListJobs rate and latency with 1, 16 and 64
//! concurrent clients against a `transcoder serve` child, workers paused so only the API
//! path is measured.

use crate::BenchContext;
use crate::report::{Check, Goal, SectionResult, Table, num, percentile};
use crate::rpc::{self, Backend, COMPANY, Client};
use crate::service_child::{Db, ServiceChild, ServiceOptions, place_source};
use std::sync::Arc;
use std::time::{Duration, Instant};
use transcoder::proto as pb;
use transcoder::test_support::pg::PgDatabase;

#[derive(Clone, Copy, PartialEq)]
enum Rpc {
    Submit,
    Get,
    List,
}

impl Rpc {
    fn name(self) -> &'static str {
        match self {
            Rpc::Submit => "SubmitJob",
            Rpc::Get => "GetJob",
            Rpc::List => "ListJobs",
        }
    }
}

struct Outcome {
    calls: usize,
    errors: usize,
    elapsed: Duration,
    /// Per-call latency in milliseconds, sorted.
    latencies: Vec<f64>,
    job_ids: Vec<String>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

async fn call(
    client: &mut Client,
    rpc: Rpc,
    order: &pb::Order,
    ids: &[String],
    i: usize,
) -> Result<Option<String>, tonic::Status> {
    match rpc {
        Rpc::Submit => {
            let job = client
                .submit_job(rpc::submit_request(order.clone()))
                .await?
                .into_inner();
            Ok(Some(job.id))
        }
        Rpc::Get => {
            client
                .get_job(pb::GetJobRequest {
                    company_id: COMPANY.into(),
                    job_id: ids[i % ids.len()].clone(),
                })
                .await?;
            Ok(None)
        }
        Rpc::List => {
            client
                .list_jobs(pb::ListJobsRequest {
                    company_id: COMPANY.into(),
                    page_size: 20,
                    ..Default::default()
                })
                .await?;
            Ok(None)
        }
    }
}

/// `clients` tasks calling `rpc` back to back for `duration`.
async fn drive(
    channels: &[Client],
    clients: usize,
    rpc: Rpc,
    duration: Duration,
    order: &pb::Order,
    ids: Arc<Vec<String>>,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut client = channels[c % channels.len()].clone();
        let (order, ids) = (order.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut new_ids, mut errors) = (Vec::new(), Vec::new(), 0);
            let mut i = c * 7919;
            while Instant::now() < deadline {
                let t = Instant::now();
                match call(&mut client, rpc, &order, &ids, i).await {
                    Ok(id) => new_ids.extend(id),
                    Err(_) => errors += 1,
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                i += 1;
            }
            (latencies, new_ids, errors)
        }));
    }
    let mut outcome = Outcome {
        calls: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        job_ids: Vec::new(),
    };
    for task in tasks {
        let (latencies, ids, errors) = task.await.expect("client task");
        outcome.latencies.extend(latencies);
        outcome.job_ids.extend(ids);
        outcome.errors += errors;
    }
    outcome.elapsed = started.elapsed();
    outcome.calls = outcome.latencies.len() - outcome.errors;
    outcome.latencies.sort_by(f64::total_cmp);
    outcome
}

pub async fn run(ctx: &BenchContext) -> anyhow::Result<SectionResult> {
    let mut result = SectionResult::default();
    let client_counts: &[usize] = if ctx.quick { &[1, 2] } else { &[1, 16, 64] };
    let duration = Duration::from_millis(if ctx.quick { 300 } else { 3000 });
    let source = ctx.tiny_clip().await?;
    let mut table = Table::new(
        "Control plane (workers paused)",
        &[
            "database", "RPC", "clients", "calls/s", "p50 ms", "p99 ms", "errors",
        ],
    );
    table.note(format!(
        "Each cell: that many concurrent clients calling back to back for {} s over up to 4 \
         HTTP/2 connections from the bench to a `transcoder serve` child (its workers \
         paused), the two processes sharing the cores. \
         ListJobs pages 20 jobs of a company holding every job submitted before it.",
        duration.as_secs_f64()
    ));
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = ctx.fresh_scratch(&format!("control-plane-{}", backend.name()))?;
        let order = rpc::order(
            &place_source(&source, &dir)?,
            &["System preset: Generic 360p"],
        );
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create("transcoder_bench").await?),
        };
        let options = ServiceOptions {
            workers: 1,
            paused: true,
            db: database
                .as_ref()
                .map_or(Db::Sqlite, |d| Db::Postgres(d.url())),
        };
        let service = ServiceChild::start_with(&ctx.transcoder, &dir, options).await?;
        let channels = service.channels(4).await?;
        // Warm-up: connections, statement caches, the first pages.
        let warm = drive(
            &channels,
            4,
            Rpc::Submit,
            Duration::from_millis(200),
            &order,
            Arc::default(),
        )
        .await;
        let mut ids = warm.job_ids;
        for &clients in client_counts {
            for rpc in [Rpc::Submit, Rpc::Get, Rpc::List] {
                let shared = Arc::new(ids.clone());
                let out = drive(
                    &channels[..clients.min(4)],
                    clients,
                    rpc,
                    duration,
                    &order,
                    shared,
                )
                .await;
                ids.extend(out.job_ids.iter().cloned());
                let (p50, p99) = (
                    percentile(&out.latencies, 50.0),
                    percentile(&out.latencies, 99.0),
                );
                table.row(vec![
                    backend.name().into(),
                    rpc.name().into(),
                    clients.to_string(),
                    num(out.rate()),
                    num(p50),
                    num(p99),
                    out.errors.to_string(),
                ]);
                if rpc == Rpc::Submit && clients == *client_counts.last().unwrap() {
                    let goal = if backend == Backend::Sqlite {
                        5000.0
                    } else {
                        2000.0
                    };
                    result.checks.push(Check::new(
                        format!("SubmitJob rate, {} clients, {}", clients, backend.name()),
                        out.rate(),
                        "/s",
                        Goal::AtLeast(goal),
                    ));
                    result.checks.push(Check::new(
                        format!("SubmitJob p99, {} clients, {}", clients, backend.name()),
                        p99,
                        "ms",
                        Goal::AtMost(20.0),
                    ));
                }
                if out.errors > 0 {
                    eprintln!("warning: {} {} calls failed", out.errors, rpc.name());
                }
            }
        }
        drop(channels);
        service.stop()?;
        if let Some(database) = database {
            database.remove().await?;
        }
    }
    result.tables.push(table);
    Ok(result)
}
