//! Wiring: database, service, worker pool, gRPC and HTTP servers, and an ordered
//! shutdown (stop accepting, hand running jobs back to the queue, close).

use crate::api::grpc::GrpcApi;
use crate::config::Settings;
use crate::domain::order::OrderPolicy;
use crate::events::EventHub;
use crate::persistence::{self, JobRepository, SeaJobRepository};
use crate::queue::{self, WorkerControl, WorkerDeps};
use crate::service::Service;
use crate::storage::FileRoots;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

pub struct RunningApp {
    /// Where gRPC listens (None for the worker role).
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: SocketAddr,
    pub workers: WorkerControl,
    pub service: Service,
    pub settings: Arc<Settings>,
    /// The job store and event hub the workers write through (benchmarks drive a job
    /// through them exactly as a worker does).
    pub repo: Arc<dyn JobRepository>,
    pub hub: Arc<EventHub>,
    shutdown: CancellationToken,
    servers: Vec<JoinHandle<()>>,
    worker_tasks: Vec<JoinHandle<()>>,
}

impl RunningApp {
    pub async fn start(mut settings: Settings) -> anyhow::Result<Self> {
        crate::media::init()?;
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
        settings.data_dir = settings.data_dir.canonicalize()?;
        let settings = Arc::new(settings);

        let db = persistence::connect(&settings.database_url(), settings.database.max_connections)
            .await
            .context("opening the database")?;
        let repo: Arc<dyn JobRepository> = Arc::new(SeaJobRepository::new(db));
        let hub = Arc::new(EventHub::default());
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
        let service = Service::new(
            repo.clone(),
            hub.clone(),
            policy,
            work_available.clone(),
            Duration::from_millis(settings.workers.poll_interval_ms),
        );

        let shutdown = CancellationToken::new();
        let workers = WorkerControl::new(settings.workers.paused);
        let mut worker_tasks = Vec::new();
        if settings.server.role.runs_workers() {
            let deps = Arc::new(WorkerDeps {
                repo: repo.clone(),
                hub: hub.clone(),
                settings: settings.clone(),
                roots,
                work_available,
            });
            let concurrency = settings.worker_concurrency();
            tracing::info!(
                concurrency,
                encoder_threads = settings.encoder_threads(),
                "starting workers"
            );
            worker_tasks = queue::spawn_workers(deps, concurrency, &workers, shutdown.clone());
        }

        let mut servers = Vec::new();
        let mut grpc_addr = None;
        if settings.server.role.runs_api() {
            let listener = TcpListener::bind(settings.server.grpc_addr)
                .await
                .with_context(|| format!("binding gRPC on {}", settings.server.grpc_addr))?;
            grpc_addr = Some(listener.local_addr()?);
            servers.push(spawn_grpc(listener, service.clone(), shutdown.clone()).await?);
        }
        let http_listener = TcpListener::bind(settings.server.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {}", settings.server.http_addr))?;
        let http_addr = http_listener.local_addr()?;
        let http_shutdown = shutdown.clone();
        servers.push(tokio::spawn(async move {
            let serve = axum::serve(http_listener, crate::api::http::router())
                .with_graceful_shutdown(http_shutdown.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "HTTP server failed");
            }
        }));

        Ok(Self {
            grpc_addr,
            http_addr,
            workers,
            service,
            settings,
            repo,
            hub,
            shutdown,
            servers,
            worker_tasks,
        })
    }

    /// Fires when shutdown starts.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops servers, then workers (running jobs go back to the queue), and waits.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for task in self.servers {
            let _ = task.await;
        }
        for task in self.worker_tasks {
            let _ = task.await;
        }
    }
}

async fn spawn_grpc(
    listener: TcpListener,
    service: Service,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<crate::api::grpc::TranscoderServiceServer<GrpcApi>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(GrpcApi::new(service).into_server());
    Ok(tokio::spawn(async move {
        // Without TCP_NODELAY a small response waits for the client's delayed ACK
        // (Nagle): every unary call took ~40 ms. Our own listener bypasses the
        // builder's tcp_nodelay, so set it on the incoming stream.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "gRPC server failed");
        }
    }))
}
