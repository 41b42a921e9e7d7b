//! `fieldlens serve`: configuration, logging, signals and exit codes around the hub.

use clap::Args;
use fieldlens_hub::{Config, LogFormat, Overrides};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for a configuration error (EX_USAGE, as linkerd2-proxy uses).
const EXIT_BAD_CONFIG: u8 = 64;

/// Options of `fieldlens serve`. Flags win over `FIELDLENS_*` environment
/// variables, which win over the config file.
#[derive(Debug, Args)]
#[command(after_help = "\
Every listener binds on the --listen host; with port 0 each picks a free port.
One line per listener is printed to stdout once bound, e.g.
  listening grpc=127.0.0.1:41234
  listening metrics=127.0.0.1:41235
  listening media=127.0.0.1:41236

Exit codes: 0 after a clean shutdown (SIGTERM or SIGINT), 64 for a bad
configuration, 1 for any other failure (e.g. the data directory is in use).")]
pub struct ServeArgs {
    /// gRPC listen address (default 127.0.0.1:7600).
    #[arg(long, env = "FIELDLENS_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory for the embedded store, secrets and certificates (default ./fieldlens-data).
    #[arg(long, env = "FIELDLENS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file (API keys, routing policy, token lifetimes...).
    #[arg(long, env = "FIELDLENS_CONFIG")]
    config: Option<PathBuf>,
    /// Address for /metrics, /healthz and /readyz (default: the --listen host, free port).
    #[arg(long, env = "FIELDLENS_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// UDP address of the QUIC media endpoint (default: the --listen host, free port).
    #[arg(long, env = "FIELDLENS_MEDIA_LISTEN")]
    media_listen: Option<SocketAddr>,
    /// Folder of guide packs (default ./guides).
    #[arg(long, env = "FIELDLENS_GUIDES_DIR")]
    guides_dir: Option<PathBuf>,
    /// Log format: plain or json (logs go to stderr).
    #[arg(long, env = "FIELDLENS_LOG_FORMAT", value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `fieldlens_hub=debug` (RUST_LOG syntax).
    #[arg(long, env = "FIELDLENS_LOG", default_value = "info")]
    log: String,
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "plain" => Ok(LogFormat::Plain),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("{other:?} is not a log format; use plain or json")),
    }
}

fn init_logging(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("--log {filter:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// Runs the server and maps failures to exit codes.
pub fn main(args: ServeArgs) -> ExitCode {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        metrics_listen: args.metrics_listen,
        media_listen: args.media_listen,
        log_format: args.log_format,
        guides_dir: args.guides_dir,
    };
    let config = match Config::load(args.config.as_deref(), overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    if let Err(error) = init_logging(config.log_format, &args.log) {
        eprintln!("error: {error:#}");
        return ExitCode::from(EXIT_BAD_CONFIG);
    }
    let catalog = match fieldlens_hub::load_catalog(&config) {
        Ok(catalog) => catalog,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(fieldlens_hub::run(
        config,
        catalog,
        shutdown_signal(),
        |bound| {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "listening grpc={}", bound.grpc);
            let _ = writeln!(stdout, "listening metrics={}", bound.metrics);
            let _ = writeln!(stdout, "listening media={}", bound.media);
            let _ = stdout.flush();
        },
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the hub");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
