//! A transfer (download or upload) whose byte counts become progress ticks over a slice
//! of its phase, and which stops with the job.

use super::lease::Lease;
use crate::domain::{Job, Phase, ProgressTick};
use crate::error::{Error, ErrorCode};
use crate::storage::Transfer;
use std::time::Duration;

/// How long a stopped transfer may take to clean up (abort a multipart upload) before
/// it is dropped.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs a transfer while turning its progress into ticks over `span` of `phase`.
pub async fn tracked<T, Fut>(
    lease: &Lease<'_>,
    job: &mut Job,
    phase: Phase,
    label: &str,
    span: (f64, f64),
    work: impl FnOnce(Transfer) -> Fut,
) -> Result<T, Error>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let (transfer, mut reports) = Transfer::channel();
    let stop = lease.stop.token().clone();
    let running = work(transfer.stopped_by(stop.clone()));
    let report = async {
        while reports.changed().await.is_ok() {
            let (done, total) = *reports.borrow_and_update();
            let Some(total) = total.filter(|t| *t > 0) else {
                continue;
            };
            let fraction = span.0 + (span.1 - span.0) * (done as f64 / total as f64);
            let percent = phase.overall_percent(fraction);
            if percent >= job.progress_percent + 0.5 {
                job.progress_percent = percent;
                let tick = ProgressTick {
                    phase,
                    percent,
                    output_label: label.to_owned(),
                    fps: 0.0,
                    speed: 0.0,
                    eta_seconds: 0.0,
                    outputs: Vec::new(),
                };
                lease.progress(job, tick).await?;
            }
        }
        Ok::<(), Error>(())
    };
    let both = async {
        let (result, reported) = tokio::join!(running, report);
        reported?;
        result
    };
    tokio::pin!(both);
    tokio::select! {
        done = &mut both => done,
        _ = stop.cancelled() => {
            let _ = tokio::time::timeout(STOP_GRACE, both).await;
            let doing = format!("{phase:?}").to_lowercase();
            Err(Error::new(ErrorCode::Canceled, format!("stopped while {doing}")))
        }
    }
}
