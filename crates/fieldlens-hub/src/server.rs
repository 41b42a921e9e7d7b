//! Starting and stopping the hub: listeners, services, background tasks, graceful shutdown.

use crate::app::Hub;
use crate::config::Config;
use crate::grpc::{
    capture::CaptureApi, cases::CaseApi, dispatch::DispatchApi, guides::GuideApi,
    technicians::TechnicianApi, triage::TriageApi,
};
use crate::metrics::{GrpcMetricsLayer, http_routes};
use anyhow::Context;
use fieldlens_proto::v1::{
    capture_service_server::CaptureServiceServer, case_service_server::CaseServiceServer,
    dispatch_service_server::DispatchServiceServer, guide_service_server::GuideServiceServer,
    technician_service_server::TechnicianServiceServer, triage_service_server::TriageServiceServer,
};
use fieldlens_store::SledStore;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The addresses the hub bound, for printing and for tests.
#[derive(Debug, Clone)]
pub struct Bound {
    /// gRPC.
    pub grpc: SocketAddr,
    /// HTTP metrics and probes.
    pub metrics: SocketAddr,
    /// QUIC media endpoint (UDP).
    pub media: SocketAddr,
}

/// Loads the token key from the data directory, creating it on first start.
fn token_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    let dir = data_dir.join("secrets");
    let path = dir.join("token.key");
    if let Ok(bytes) = std::fs::read(&path) {
        return bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key; delete it to make a new one (outstanding tokens stop working)", path.display()));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    write_private(&path, &key).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Runs the hub until `shutdown` resolves, then drains and stops.
/// `on_bound` is called once every listener is bound.
pub async fn run(
    config: Config,
    catalog: crate::config::Catalog,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(&Bound),
) -> anyhow::Result<()> {
    let store = SledStore::open(&config.data_dir)?;
    let key = token_key(&config.data_dir)?;
    let hub = Arc::new(Hub::new(&config, catalog, Arc::new(store), key)?);
    let media = crate::media::start(&config, &hub)?;

    let grpc_listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding gRPC listener on {}", config.listen))?;
    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("binding metrics listener on {}", config.metrics_listen))?;
    let bound = Bound {
        grpc: grpc_listener.local_addr()?,
        metrics: metrics_listener.local_addr()?,
        media: media.local_addr(),
    };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<CaseServiceServer<CaseApi>>()
        .await;
    health_reporter
        .set_serving::<TechnicianServiceServer<TechnicianApi>>()
        .await;
    health_reporter
        .set_serving::<DispatchServiceServer<DispatchApi>>()
        .await;
    health_reporter
        .set_serving::<GuideServiceServer<GuideApi>>()
        .await;
    health_reporter
        .set_serving::<CaptureServiceServer<CaptureApi>>()
        .await;
    health_reporter
        .set_serving::<TriageServiceServer<TriageApi>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(fieldlens_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(fieldlens_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // Shutdown fans out: stop accepting, end streams, stop loops.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    {
        let hub = Arc::clone(&hub);
        let health_reporter = health_reporter.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutdown requested; draining");
            health_reporter
                .set_not_serving::<CaseServiceServer<CaseApi>>()
                .await;
            hub.metrics.ready.store(false, Ordering::Relaxed);
            hub.begin_shutdown();
            let _ = stop_tx.send(true);
        });
    }
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let routing = tokio::spawn(routing_loop(Arc::clone(&hub), stop_rx.clone()));
    // The flusher outlives the drain: requests finishing during it still wait for durability.
    let (flusher_stop, flusher_stop_rx) = tokio::sync::watch::channel(false);
    let flusher = tokio::spawn(hub.journal().run_flusher(flusher_stop_rx));
    let metrics_server = tokio::spawn({
        let routes = http_routes(Arc::clone(&hub.metrics));
        let stop = stopped(stop_rx.clone());
        async move {
            axum::serve(metrics_listener, routes)
                .with_graceful_shutdown(stop)
                .await
        }
    });

    let grpc = tonic::transport::Server::builder()
        .layer(GrpcMetricsLayer(Arc::clone(&hub.metrics)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(CaseServiceServer::new(CaseApi {
            hub: Arc::clone(&hub),
        }))
        .add_service(TechnicianServiceServer::new(TechnicianApi {
            hub: Arc::clone(&hub),
        }))
        .add_service(DispatchServiceServer::new(DispatchApi {
            hub: Arc::clone(&hub),
        }))
        .add_service(GuideServiceServer::new(GuideApi {
            hub: Arc::clone(&hub),
        }))
        .add_service(TriageServiceServer::new(TriageApi {
            hub: Arc::clone(&hub),
        }))
        .add_service(
            CaptureServiceServer::new(CaptureApi {
                hub: Arc::clone(&hub),
            })
            // A 1 MiB chunk plus framing.
            .max_decoding_message_size(1024 * 1024 + 1024),
        )
        .serve_with_incoming_shutdown(incoming(grpc_listener), stopped(stop_rx.clone()));

    hub.metrics.ready.store(true, Ordering::Relaxed);
    on_bound(&bound);
    tracing::info!(grpc = %bound.grpc, metrics = %bound.metrics, media = %bound.media, "hub serving");

    let grpc = tokio::spawn(grpc);
    stopped(stop_rx.clone()).await;
    media.shutdown(crate::media::SHUTDOWN_GRACE).await;
    match tokio::time::timeout(DRAIN_TIMEOUT, grpc).await {
        Ok(result) => result?.context("gRPC server failed")?,
        Err(_) => tracing::warn!(
            "in-flight requests did not finish within {DRAIN_TIMEOUT:?}; stopping anyway"
        ),
    }
    let _ = routing.await;
    let _ = metrics_server.await;
    let _ = flusher_stop.send(true);
    let _ = flusher.await;
    let hub_for_sync = Arc::clone(&hub);
    tokio::task::spawn_blocking(move || hub_for_sync.sync_store()).await??;
    tracing::info!("hub stopped");
    Ok(())
}

/// Accepted connections with Nagle off: tonic only sets TCP_NODELAY on
/// listeners it binds itself, and small gRPC frames would otherwise wait for
/// delayed ACKs (~40 ms per request).
fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|stream| {
        if let Ok(stream) = &stream
            && let Err(error) = stream.set_nodelay(true)
        {
            tracing::warn!(%error, "cannot disable Nagle on a gRPC connection");
        }
        stream
    })
}

async fn routing_loop(hub: Arc<Hub>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let next = hub.route().await;
        let wait = next
            .map(|at| Duration::from_millis((at - crate::app::now_ms()).clamp(1, 1_000) as u64))
            .unwrap_or(Duration::from_secs(1));
        tokio::select! {
            _ = hub.routing_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}
