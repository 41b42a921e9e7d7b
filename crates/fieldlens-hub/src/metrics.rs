//! Prometheus metrics, the gRPC request layer that feeds them, and the HTTP side (`/metrics`, `/healthz`, `/readyz`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::codegen::http;

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 100 µs to ~3 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// Every metric the hub exports.
pub struct Metrics {
    registry: Registry,
    /// Cases opened (not counting idempotent replays).
    pub cases_opened: Counter,
    /// Offers by outcome: offered, accepted, declined, expired.
    pub offers: Family<Labels, Counter>,
    /// Cases waiting now.
    pub waiting: Gauge,
    /// Technicians available and not paused.
    pub technicians_available: Gauge,
    /// Seconds from queueing to acceptance.
    pub time_to_pair: Histogram,
    /// gRPC requests by method and status code.
    pub grpc_requests: Family<Labels, Counter>,
    /// gRPC time to response headers, by method.
    pub grpc_latency: Family<Labels, Histogram, fn() -> Histogram>,
    /// Set once the hub serves requests.
    pub ready: AtomicBool,
    /// The media endpoint's counters, read at each scrape.
    pub media: Arc<crate::media::MediaMetrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("fieldlens");
        let metrics = Metrics {
            cases_opened: Counter::default(),
            offers: Family::default(),
            waiting: Gauge::default(),
            technicians_available: Gauge::default(),
            time_to_pair: Histogram::new(exponential_buckets(0.1, 2.0, 16)),
            grpc_requests: Family::default(),
            grpc_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ready: AtomicBool::new(false),
            media: Arc::default(),
            registry: Registry::default(),
        };
        registry.register("cases_opened", "Cases opened", metrics.cases_opened.clone());
        registry.register(
            "offers",
            "Routing offers by outcome",
            metrics.offers.clone(),
        );
        registry.register(
            "cases_waiting",
            "Cases waiting for a technician",
            metrics.waiting.clone(),
        );
        registry.register(
            "technicians_available",
            "Technicians available and not paused",
            metrics.technicians_available.clone(),
        );
        registry.register(
            "time_to_pair_seconds",
            "Seconds from queueing to a technician accepting",
            metrics.time_to_pair.clone(),
        );
        registry.register(
            "grpc_requests",
            "gRPC requests by method and code",
            metrics.grpc_requests.clone(),
        );
        registry.register(
            "grpc_response_seconds",
            "gRPC time to response headers by method",
            metrics.grpc_latency.clone(),
        );
        registry.register_collector(Box::new(Arc::clone(&metrics.media)));
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Counts one offer outcome.
    pub fn offer_outcome(&self, outcome: &'static str) {
        self.offers
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The HTTP routes served on the metrics listener.
pub fn http_routes(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(metrics)
}

async fn render_metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

async fn ready(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    if metrics.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Tower layer recording every gRPC request's method, status code and latency.
#[derive(Clone)]
pub struct GrpcMetricsLayer(pub Arc<Metrics>);

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: Arc::clone(&self.0),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around the gRPC router.
#[derive(Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let started = Instant::now();
        let metrics = Arc::clone(&self.metrics);
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                // Errors of unary calls come as trailers-only responses, so the
                // status is in the headers; success puts it in trailers.
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_owned(),
                Err(_) => "transport_error".to_owned(),
            };
            metrics
                .grpc_latency
                .get_or_create(&vec![("method", method.clone())])
                .observe(started.elapsed().as_secs_f64());
            metrics
                .grpc_requests
                .get_or_create(&vec![("method", method), ("code", code)])
                .inc();
            result
        })
    }
}
