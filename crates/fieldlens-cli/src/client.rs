//! Connecting to a hub as a gRPC client, with bearer credentials.

use anyhow::Context;
use clap::Args;
use fieldlens_proto::v1::case_service_client::CaseServiceClient;
use fieldlens_proto::v1::dispatch_service_client::DispatchServiceClient;
use fieldlens_proto::v1::technician_service_client::TechnicianServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Default hub address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7600";

/// Where the hub is and who we are.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Hub gRPC address.
    #[arg(long, env = "FIELDLENS_SERVER", default_value = DEFAULT_SERVER, global = true)]
    pub server: String,
    /// Print JSON instead of text (one object per line for streams).
    #[arg(long, global = true)]
    pub json: bool,
}

/// Adds `authorization: Bearer <credential>` to every request.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl Bearer {
    /// A bearer credential, or none.
    pub fn new(credential: Option<&str>) -> anyhow::Result<Self> {
        credential
            .map(|c| {
                format!("Bearer {c}")
                    .parse()
                    .context("the credential holds characters not allowed in a header")
            })
            .transpose()
            .map(Bearer)
    }
}

/// An authenticated channel.
pub type Authed = InterceptedService<Channel, Bearer>;

/// Connects to the hub.
pub async fn channel(server: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(server.to_owned())
        .with_context(|| format!("{server:?} is not a URL such as {DEFAULT_SERVER}"))?
        .connect_timeout(std::time::Duration::from_secs(5));
    endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the hub at {server}; is `fieldlens serve` running?"))
}

/// Case service client.
pub async fn cases(
    server: &str,
    credential: Option<&str>,
) -> anyhow::Result<CaseServiceClient<Authed>> {
    Ok(CaseServiceClient::with_interceptor(
        channel(server).await?,
        Bearer::new(credential)?,
    ))
}

/// Technician service client.
pub async fn technicians(
    server: &str,
    key: &str,
) -> anyhow::Result<TechnicianServiceClient<Authed>> {
    Ok(TechnicianServiceClient::with_interceptor(
        channel(server).await?,
        Bearer::new(Some(key))?,
    ))
}

/// Dispatch service client.
pub async fn dispatch(server: &str, key: &str) -> anyhow::Result<DispatchServiceClient<Authed>> {
    Ok(DispatchServiceClient::with_interceptor(
        channel(server).await?,
        Bearer::new(Some(key))?,
    ))
}

/// Runs a client command on a fresh runtime.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    future: F,
) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(future)
}

/// Turns a gRPC status into an error a person can act on.
pub fn status_error(status: tonic::Status) -> anyhow::Error {
    let hint = match status.code() {
        tonic::Code::Unauthenticated => " (check --api-key / --token)",
        tonic::Code::PermissionDenied => " (these credentials may not do this)",
        tonic::Code::Unavailable => " (is the hub running and reachable?)",
        _ => "",
    };
    anyhow::anyhow!("{:?}: {}{hint}", status.code(), status.message())
}
