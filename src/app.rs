//! Wiring: database, service, worker pool, gRPC and HTTP servers, and an ordered
//! shutdown (stop accepting, hand running jobs back to the queue, close).

use crate::admin::Admin;
use crate::api::grpc::{CoalescedWrites, GrpcApi, GrpcRejection};
use crate::api::http::HttpRejection;
use crate::auth::{AuthLayer, Authenticator, SubmitLimiter};
use crate::config::Settings;
use crate::domain::RateLimit;
use crate::domain::order::OrderPolicy;
use crate::egress::{Allowlist, EgressClient};
use crate::events::{EventHub, Journal};
use crate::notify::Dispatcher;
use crate::notify::email::Mailer;
use crate::notify::schedule::RetrySchedule;
use crate::persistence::{
    self, CompanyRepository, JobRepository, NotificationRepository, SeaCompanyRepository,
    SeaJobRepository, SeaNotificationRepository, SeaProfileRepository, SeaUsageRepository, Signal,
};
use crate::queue::{self, RunningJobs, StopReason, WorkerControl, WorkerDeps};
use crate::readiness::ReadinessProbe;
use crate::service::{Repositories, Service, ServiceRuntime};
use crate::storage::s3::S3Store;
use crate::storage::{FileRoots, Storage};
use crate::telemetry::metrics::{Metrics, MetricsSource, RequestMetricsLayer};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

pub struct RunningApp {
    /// Where gRPC listens (None for the worker role).
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: SocketAddr,
    pub workers: WorkerControl,
    pub service: Service,
    pub settings: Arc<Settings>,
    /// The job store the workers write through (tests drive a job through it by hand).
    #[cfg(feature = "test-support")]
    pub repo: Arc<dyn JobRepository>,
    /// Companies and tokens, as the operator CLI manages them (tests and the demo use it
    /// to make their own).
    pub admin: Admin,
    /// Jobs running here; the drain hands them back once its grace is over.
    running: Arc<RunningJobs>,
    shutdown: CancellationToken,
    servers: Vec<JoinHandle<()>>,
    worker_tasks: Vec<JoinHandle<()>>,
}

impl RunningApp {
    pub async fn start(mut settings: Settings) -> anyhow::Result<Self> {
        crate::media::init()?;
        // Two rustls providers get linked (ring via sqlx, aws-lc-rs via the AWS SDK and
        // reqwest): choose one for the process, or TLS connections panic. Err means a
        // provider is already installed (another app in this process), which is fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
        settings.data_dir = settings.data_dir.canonicalize()?;
        let settings = Arc::new(settings);

        let db = persistence::connect(
            &settings.database_url(),
            settings.database.max_connections,
            settings.database.migrate_on_start,
        )
        .await
        .context("opening the database")?;
        let db_for_checkpoints = db.clone();
        let db_for_readiness = db.clone();
        let repo: Arc<dyn JobRepository> = Arc::new(SeaJobRepository::new(
            db.clone(),
            Duration::from_secs(settings.limits.idempotency_window_seconds),
        ));
        let notifications: Arc<dyn NotificationRepository> =
            Arc::new(SeaNotificationRepository::new(db.clone()));
        let companies: Arc<dyn CompanyRepository> = Arc::new(SeaCompanyRepository::new(db.clone()));
        let authenticator = Arc::new(Authenticator::new(companies.clone()));
        let shutdown = CancellationToken::new();
        // A start that fails half-way (a port taken, a bad TLS file) stops what it had
        // already spawned: every task follows this token.
        let stop_on_early_return = shutdown.clone().drop_guard();
        let hub = EventHub::new(
            repo.clone(),
            Duration::from_millis(settings.workers.poll_interval_ms),
            shutdown.clone(),
        );
        let running = RunningJobs::new();
        // One registry per app: tests run several apps in one process.
        let metrics = Arc::new(crate::telemetry::metrics::Metrics::new());
        let work_available = Arc::new(Notify::new());
        let roots = FileRoots::new(
            std::iter::once(settings.data_dir.clone())
                .chain(settings.storage.allowed_roots.clone()),
        )
        .context("preparing allowed file roots")?;
        let policy = OrderPolicy {
            file_roots: roots.as_slice().to_vec(),
            max_outputs: settings.limits.max_outputs,
            default_output_root: settings.data_dir.join("outputs"),
        };
        let limiter = SubmitLimiter::new(RateLimit {
            per_second: settings.limits.submit_rate_per_second,
            burst: settings.limits.submit_burst,
        });
        let service = Service::new(
            Repositories {
                jobs: repo.clone(),
                notifications: notifications.clone(),
                profiles: Arc::new(SeaProfileRepository::new(db.clone())),
                usage: Arc::new(SeaUsageRepository::new(db)),
            },
            settings.billing.tariff(),
            limiter,
            hub.clone(),
            policy,
            ServiceRuntime {
                work_available: work_available.clone(),
                running: running.clone(),
                s3: settings.s3.clone(),
                shutdown: shutdown.clone(),
                metrics: metrics.clone(),
            },
            Duration::from_millis(settings.workers.poll_interval_ms),
        );

        let workers = WorkerControl::new(settings.workers.paused);
        let mut worker_tasks: Vec<_> =
            persistence::spawn_wal_checkpoints(db_for_checkpoints, shutdown.clone())
                .into_iter()
                .collect();
        worker_tasks.extend(listen_to_other_processes(
            &settings,
            &hub,
            &work_available,
            &running,
            &shutdown,
        ));
        if settings.server.role.runs_workers() {
            let deps = WorkerDeps {
                journal: Journal::new(repo.clone(), hub.clone()),
                settings: settings.clone(),
                storage: storage(&settings, roots).await?,
                work_available,
                running: running.clone(),
                notifications,
                notifications_due: Arc::new(Notify::new()),
                metrics: metrics.clone(),
            };
            worker_tasks.extend(start_background_work(deps, &workers, &shutdown)?);
        }

        let mut servers = Vec::new();
        let (readiness, readiness_task) =
            ReadinessProbe::start(db_for_readiness, workers.pulse(), shutdown.clone()).await;
        servers.push(readiness_task);
        // TLS on both ports when a certificate is configured (src/tls); plain otherwise.
        let tls = match crate::tls::TlsServer::start(&settings.server.tls, shutdown.clone())? {
            Some((tls, reload_task)) => {
                servers.push(reload_task);
                Some(tls)
            }
            None => None,
        };
        let mut grpc_addr = None;
        if settings.server.role.runs_api() {
            let listener = TcpListener::bind(settings.server.grpc_addr)
                .await
                .with_context(|| format!("binding gRPC on {}", settings.server.grpc_addr))?;
            grpc_addr = Some(listener.local_addr()?);
            let auth = AuthLayer::new(authenticator.clone(), GrpcRejection);
            servers.push(
                spawn_grpc(
                    crate::tls::grpc_incoming(listener, tls.as_ref(), shutdown.clone()),
                    service.clone(),
                    auth,
                    grpc_request_metrics(&metrics),
                    readiness.clone(),
                    shutdown.clone(),
                )
                .await?,
            );
        }
        let http_listener = TcpListener::bind(settings.server.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {}", settings.server.http_addr))?;
        let http_addr = http_listener.local_addr()?;
        let http_listener =
            crate::tls::HttpListener::new(http_listener, tls.as_ref(), shutdown.clone())?;
        let http_shutdown = shutdown.clone();
        let rest = crate::api::rest::RestState {
            service: service.clone(),
            authenticator: authenticator.clone(),
            max_body_bytes: settings.limits.max_request_body_bytes,
        };
        let dashboard = crate::web::WebState::new(
            service.clone(),
            authenticator.clone(),
            tls.is_some(),
            shutdown.clone(),
        );
        let scrape = MetricsSource::new(metrics.clone(), repo.clone(), running.clone());
        let http_router = crate::api::http::router(rest, readiness)
            .merge(crate::web::router(dashboard))
            .merge(crate::api::http::metrics_router(scrape))
            .layer(AuthLayer::new(authenticator.clone(), HttpRejection))
            .layer(RequestMetricsLayer::http(metrics.clone()))
            .layer(crate::telemetry::RequestSpanLayer::http());
        servers.push(tokio::spawn(async move {
            let serve = axum::serve(http_listener, http_router)
                .with_graceful_shutdown(http_shutdown.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "HTTP server failed");
            }
        }));

        let _ = stop_on_early_return.disarm();
        Ok(Self {
            grpc_addr,
            http_addr,
            workers,
            service,
            settings,
            #[cfg(feature = "test-support")]
            repo,
            admin: Admin::new(companies),
            running,
            shutdown,
            servers,
            worker_tasks,
        })
    }

    /// Fires when shutdown starts.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The drain: stops claiming and accepting (servers end their streams with a clear
    /// status), lets running jobs finish within `workers.drain_grace_seconds`, then hands
    /// the rest back to the queue (their leases released at once, the attempt not
    /// counted), and waits for every task to end.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let grace = Duration::from_secs(self.settings.workers.drain_grace_seconds);
        let running = self.running.clone();
        if running.count() > 0 {
            tracing::info!(
                jobs = running.count(),
                ?grace,
                "draining: running jobs get the grace period"
            );
        }
        let handover = tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if running.count() > 0 {
                tracing::info!(
                    jobs = running.count(),
                    "drain grace over: handing jobs back to the queue"
                );
            }
            running.stop_all(StopReason::Handover);
        });
        for task in self.servers {
            let _ = task.await;
        }
        for task in self.worker_tasks {
            let _ = task.await;
        }
        handover.abort();
    }
}

/// On PostgreSQL, follows the other processes: wakes idle workers when a job is queued,
/// hands new events of watched jobs to the hub, and stops a job canceled elsewhere.
fn listen_to_other_processes(
    settings: &Settings,
    hub: &Arc<EventHub>,
    work_available: &Arc<Notify>,
    running: &Arc<RunningJobs>,
    shutdown: &CancellationToken,
) -> Option<JoinHandle<()>> {
    let (hub, work, running) = (hub.clone(), work_available.clone(), running.clone());
    let deliver = move |signal: Signal| match signal {
        Signal::Work => {
            work.notify_waiters();
            work.notify_one();
        }
        Signal::Events(job) => hub.nudge(job),
        Signal::Cancel(job) => {
            running.stop(job, StopReason::Canceled);
        }
        Signal::Reconnected => {
            hub.nudge_all();
            work.notify_waiters();
        }
    };
    persistence::spawn_listener(&settings.database_url(), deliver, shutdown.clone())
}

async fn storage(settings: &Settings, roots: FileRoots) -> anyhow::Result<Storage> {
    let allow = Allowlist::parse(&settings.egress.allow)
        .map_err(|e| anyhow::anyhow!("egress.allow: {e}"))?;
    Ok(Storage {
        roots,
        http: egress_client(settings, allow),
        s3: S3Store::from_settings(&settings.s3).await,
    })
}

fn egress_client(settings: &Settings, allow: Allowlist) -> EgressClient {
    EgressClient::new(
        allow,
        Duration::from_secs(settings.egress.connect_timeout_seconds),
        Duration::from_secs(settings.egress.read_timeout_seconds),
    )
}

/// Job workers and the notification dispatcher.
fn start_background_work(
    deps: WorkerDeps,
    control: &WorkerControl,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let settings = deps.settings.clone();
    let mailer = match &settings.smtp.url {
        Some(url) if !url.is_empty() => {
            Some(Mailer::new(url, &settings.smtp.from).map_err(|e| anyhow::anyhow!(e))?)
        }
        _ => None,
    };
    let dispatcher = Arc::new(Dispatcher {
        repo: deps.notifications.clone(),
        http: deps.storage.http.clone(),
        mailer,
        schedule: RetrySchedule::new(&settings.webhooks.retry_schedule_seconds),
        timeout: Duration::from_secs(settings.webhooks.timeout_seconds),
        poll: Duration::from_millis(settings.webhooks.poll_interval_ms),
        due: deps.notifications_due.clone(),
        metrics: deps.metrics.clone(),
    });
    let concurrency = settings.worker_concurrency();
    tracing::info!(
        concurrency,
        encoder_threads = settings.encoder_threads(),
        "starting workers"
    );
    let mut tasks = queue::spawn_workers(Arc::new(deps), concurrency, control, shutdown.clone());
    tasks.push(dispatcher.spawn(shutdown.clone()));
    Ok(tasks)
}

async fn spawn_grpc(
    incoming: impl tokio_stream::Stream<Item = std::io::Result<crate::tls::Conn>> + Send + 'static,
    service: Service,
    auth: AuthLayer<GrpcRejection>,
    request_metrics: RequestMetricsLayer,
    readiness: ReadinessProbe,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    // Health says SERVING only while ready (database up, schema current).
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    readiness.report_grpc_health(&health_reporter).await;
    let follow_readiness = readiness.follow_in_grpc_health(health_reporter, shutdown.clone());
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc.BadRequest, RetryInfo, ...: so grpcurl prints error details by name.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    // Every service behind the token check; health and reflection are open paths.
    let router = tonic::transport::Server::builder()
        // A span per call, outermost: calls the token check refuses are traced too.
        .layer(crate::telemetry::RequestSpanLayer::grpc())
        // Counted outside the token check: rejected calls count too.
        .layer(request_metrics)
        .layer(auth)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(GrpcApi::new(service).into_server());
    Ok(tokio::spawn(async move {
        // Without TCP_NODELAY a small response waits for the client's delayed ACK
        // (Nagle): every unary call took ~40 ms. Our own listener bypasses the
        // builder's tcp_nodelay, so `grpc_incoming` sets it on each connection.
        // Frames of many streams then leave in one write (see CoalescedWrites); under
        // TLS that also means one record for them.
        let incoming = incoming.map(|stream| stream.map(CoalescedWrites::new));
        let serve = async {
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "gRPC server failed");
            }
        };
        tokio::join!(serve, follow_readiness);
    }))
}

/// Request metrics for the gRPC server, labelled by the methods it serves.
fn grpc_request_metrics(metrics: &Arc<Metrics>) -> RequestMetricsLayer {
    RequestMetricsLayer::grpc(
        metrics.clone(),
        &[
            crate::proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ],
    )
}
