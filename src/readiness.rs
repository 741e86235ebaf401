//! Readiness: whether this process should be sent traffic now, as opposed to liveness
//! (`/healthz`: the process answers at all).
//!
//! A replica is ready when its database answers, the schema is the one this binary
//! expects, and none of its workers is wedged (an idle worker loop silent for
//! ten poll intervals, at least 30 s, or `workers.wedged_after_seconds`: see
//! `queue/pulse.rs`). With `database.migrate_on_start = false` a fresh replica starts before the
//! `transcoder migrate` step has run: it stays out of the load balancer (HTTP `/readyz`
//! 503, gRPC health NOT_SERVING) and turns ready by itself once the schema is current,
//! without a restart. The state is refreshed by one background task, so probes cost a
//! read of the last answer, not a database round trip each.
//!
//! Liveness has its own gRPC health name, [`LIVENESS_SERVICE`], SERVING for as long as
//! the server runs: a gRPC liveness probe that must not restart pods for a database
//! outage asks for it, and readiness probes ask for "".

use crate::api::grpc::{GrpcApi, TranscoderServiceServer};
use crate::persistence::migrate;
use crate::queue::WorkerPulse;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often the background task checks again.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// How long one check may wait for the database before calling it unreachable (a pool
/// waiting for a dead server would otherwise hold the answer for its acquire timeout).
pub const CHECK_DEADLINE: Duration = Duration::from_secs(2);

/// The gRPC health service names that follow readiness: the whole server ("") and the
/// API service (`transcoder.v1.TranscoderService`).
const GRPC_SERVICES: [&str; 2] = ["", <TranscoderServiceServer<GrpcApi> as NamedService>::NAME];

/// The gRPC health service name that answers SERVING while the process runs, whatever
/// its readiness (the Helm chart's liveness probe: `grpc: {port, service: liveness}`).
pub const LIVENESS_SERVICE: &str = "liveness";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    NotReady { reason: String },
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready)
    }

    fn not_ready(reason: impl Into<String>) -> Self {
        Self::NotReady {
            reason: reason.into(),
        }
    }
}

/// The latest readiness of this process; cheap to clone and to read.
#[derive(Clone)]
pub struct ReadinessProbe {
    state: watch::Receiver<Readiness>,
}

impl ReadinessProbe {
    /// Checks once now, so the first probe already gets a true answer, then every
    /// [`CHECK_INTERVAL`] until `shutdown` fires, which ends the returned task. `workers`
    /// holds the beats of this process's workers (none in an API-only process).
    pub async fn start(
        db: DatabaseConnection,
        workers: WorkerPulse,
        shutdown: CancellationToken,
    ) -> (Self, JoinHandle<()>) {
        let first = check(&db, &workers).await;
        log_change(&first);
        let (publish, state) = watch::channel(first);
        let task = tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    next = async {
                        tokio::time::sleep(CHECK_INTERVAL).await;
                        check(&db, &workers).await
                    } => next,
                };
                publish.send_if_modified(|current| {
                    if *current == next {
                        return false;
                    }
                    log_change(&next);
                    *current = next;
                    true
                });
            }
        });
        (Self { state }, task)
    }

    pub fn current(&self) -> Readiness {
        self.state.borrow().clone()
    }

    /// Sets the gRPC health statuses to the current readiness, once, and
    /// [`LIVENESS_SERVICE`] to SERVING.
    pub async fn report_grpc_health(&self, reporter: &HealthReporter) {
        reporter
            .set_service_status(LIVENESS_SERVICE, ServingStatus::Serving)
            .await;
        let status = grpc_status(&self.state.borrow());
        for service in GRPC_SERVICES {
            reporter.set_service_status(service, status).await;
        }
    }

    /// Keeps the gRPC health statuses in step with readiness until `shutdown`.
    pub async fn follow_in_grpc_health(
        self,
        reporter: HealthReporter,
        shutdown: CancellationToken,
    ) {
        let mut changes = self.state;
        loop {
            let status = grpc_status(&changes.borrow_and_update());
            for service in GRPC_SERVICES {
                reporter.set_service_status(service, status).await;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = changes.changed() => if changed.is_err() {
                    // The checking task ended: shutdown is under way.
                    return;
                },
            }
        }
    }
}

fn grpc_status(readiness: &Readiness) -> ServingStatus {
    if readiness.is_ready() {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

fn log_change(readiness: &Readiness) {
    match readiness {
        Readiness::Ready => tracing::info!("ready"),
        Readiness::NotReady { reason } => tracing::warn!(%reason, "not ready"),
    }
}

/// One check: the database and its schema, then the workers.
async fn check(db: &DatabaseConnection, workers: &WorkerPulse) -> Readiness {
    let database = check_database(db).await;
    if !database.is_ready() {
        return database;
    }
    let wedged = workers.wedged();
    let Some(first) = wedged.first() else {
        return Readiness::Ready;
    };
    Readiness::not_ready(format!(
        "{} worker(s) wedged: {} idle without a beat for {}s (limit {}s)",
        wedged.len(),
        first.worker,
        first.silent_for.as_secs(),
        workers.stale_after().as_secs()
    ))
}

/// The database answers `SELECT 1`, then no migration is pending, each within
/// [`CHECK_DEADLINE`].
async fn check_database(db: &DatabaseConnection) -> Readiness {
    let deadline = CHECK_DEADLINE.as_secs();
    match tokio::time::timeout(CHECK_DEADLINE, db.execute_unprepared("SELECT 1")).await {
        Err(_) => {
            return Readiness::not_ready(format!(
                "database unreachable: no answer within {deadline}s"
            ));
        }
        Ok(Err(e)) => return Readiness::not_ready(format!("database unreachable: {e}")),
        Ok(Ok(_)) => {}
    }
    match tokio::time::timeout(CHECK_DEADLINE, migrate::pending_count(db)).await {
        Err(_) => {
            Readiness::not_ready(format!("schema check failed: no answer within {deadline}s"))
        }
        Ok(Err(e)) => Readiness::not_ready(format!("schema check failed: {}", e.message)),
        Ok(Ok(0)) => Readiness::Ready,
        Ok(Ok(1)) => Readiness::not_ready("1 migration pending"),
        Ok(Ok(n)) => Readiness::not_ready(format!("{n} migrations pending")),
    }
}
