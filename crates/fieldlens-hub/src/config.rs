//! Hub configuration: a TOML file, overridden by `FIELDLENS_*` environment variables, overridden by flags.
//!
//! The CLI resolves flags and environment (clap reads both, flags first) into
//! [`Overrides`]; [`Config::load`] lays them over the file and the defaults and
//! validates the result. Any error here is a configuration error (exit code 64).

use fieldlens_core::routing::RoutingPolicy;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A configuration problem; the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The guide packs or their decision tables do not load; every problem is listed.
    #[error("guide packs in {path} do not load:\n{reason}")]
    Guides {
        /// The folder.
        path: String,
        /// Every problem found, one per line.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML for this schema.
    #[error("config file {path}: {reason}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message (names the key and line).
        reason: String,
    },
    /// A value is out of range or inconsistent.
    #[error("config: {field}: {reason}")]
    Invalid {
        /// The offending key, dotted, e.g. `auth.api_keys[2].sha256`.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Plain,
    /// One JSON object per line.
    Json,
}

/// What an API key lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// A technician or adjuster: presence, offers, sessions.
    Technician,
    /// A dispatcher: queue, review, decisions.
    Dispatcher,
}

/// One API key, stored as the SHA-256 of the key (never the key itself).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The technician or dispatcher id the key authenticates as.
    pub id: String,
    /// What the key may do.
    pub role: KeyRole,
    /// Lowercase hex SHA-256 of the key (`fieldlens keys hash KEY` prints it).
    pub sha256: String,
    /// Name to show; defaults to the id.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// The configuration file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    metrics_listen: Option<SocketAddr>,
    media_listen: Option<SocketAddr>,
    media_advertise: Option<String>,
    guides_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    #[serde(default)]
    auth: AuthFile,
    #[serde(default)]
    tokens: TokenFile,
    #[serde(default)]
    queue: QueueFile,
    routing: Option<RoutingPolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    #[serde(default)]
    api_keys: Vec<ApiKeyConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    caller_ttl_secs: Option<u64>,
    session_ttl_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueFile {
    abandon_after_secs: Option<u64>,
}

/// Values given by flags or environment; each wins over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `FIELDLENS_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir` / `FIELDLENS_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--metrics-listen` / `FIELDLENS_METRICS_LISTEN`.
    pub metrics_listen: Option<SocketAddr>,
    /// `--media-listen` / `FIELDLENS_MEDIA_LISTEN`.
    pub media_listen: Option<SocketAddr>,
    /// `--log-format` / `FIELDLENS_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// `--guides-dir` / `FIELDLENS_GUIDES_DIR`.
    pub guides_dir: Option<PathBuf>,
}

/// The resolved, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// gRPC listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where the store, secrets and certificates live.
    pub data_dir: PathBuf,
    /// `/metrics`, `/healthz`, `/readyz` listen address; defaults to the gRPC host, free port.
    pub metrics_listen: SocketAddr,
    /// QUIC media listen address (UDP); defaults to the gRPC host, free port.
    pub media_listen: SocketAddr,
    /// Host name or address given to clients for the media endpoint; defaults to the bound address.
    pub media_advertise: Option<String>,
    /// Folder of guide packs.
    pub guides_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// API keys of technicians and dispatchers.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Lifetime of caller tokens.
    pub caller_token_ttl_ms: i64,
    /// Lifetime of media session tokens.
    pub session_token_ttl_ms: i64,
    /// A waiting caller not seen (no get or watch) for this long, without a
    /// callback request, is marked abandoned.
    pub abandon_after_ms: i64,
    /// Routing policy.
    pub routing: RoutingPolicy,
}

/// Default gRPC port.
pub const DEFAULT_PORT: u16 = 7600;

impl Config {
    /// Reads the file (if any), lays `overrides` over it, fills defaults, validates.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let file_config = match file {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = overrides
            .listen
            .or(file_config.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)));
        let same_host_any_port = SocketAddr::new(listen.ip(), 0);
        let config = Config {
            listen,
            data_dir: overrides
                .data_dir
                .or(file_config.data_dir)
                .unwrap_or_else(|| PathBuf::from("fieldlens-data")),
            metrics_listen: overrides
                .metrics_listen
                .or(file_config.metrics_listen)
                .unwrap_or(same_host_any_port),
            media_listen: overrides
                .media_listen
                .or(file_config.media_listen)
                .unwrap_or(same_host_any_port),
            media_advertise: file_config.media_advertise,
            guides_dir: overrides
                .guides_dir
                .or(file_config.guides_dir)
                .unwrap_or_else(|| PathBuf::from("guides")),
            log_format: overrides
                .log_format
                .or(file_config.log_format)
                .unwrap_or_default(),
            api_keys: file_config.auth.api_keys,
            caller_token_ttl_ms: secs_to_ms(
                file_config.tokens.caller_ttl_secs.unwrap_or(7 * 86_400),
            ),
            session_token_ttl_ms: secs_to_ms(file_config.tokens.session_ttl_secs.unwrap_or(900)),
            abandon_after_ms: secs_to_ms(file_config.queue.abandon_after_secs.unwrap_or(600)),
            routing: file_config.routing.unwrap_or_default(),
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        let mut ids = HashSet::new();
        let mut hashes = HashSet::new();
        for (i, key) in self.api_keys.iter().enumerate() {
            let field = |name: &str| format!("auth.api_keys[{i}].{name}");
            if key.id.is_empty()
                || key.id.len() > 64
                || !key
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(invalid(
                    field("id"),
                    "must be 1 to 64 letters, digits, '-', '_' or '.'",
                ));
            }
            if key.sha256.len() != 64 || hex::decode(&key.sha256).is_err() {
                return Err(invalid(
                    field("sha256"),
                    "must be 64 hex digits (run `fieldlens keys hash KEY`)",
                ));
            }
            if !ids.insert((key.role as u8, key.id.clone())) {
                return Err(invalid(
                    field("id"),
                    format!("{:?} is configured twice", key.id),
                ));
            }
            if !hashes.insert(key.sha256.to_ascii_lowercase()) {
                return Err(invalid(field("sha256"), "the same key is configured twice"));
            }
        }
        let ttl = |field: &str, ms: i64, max_days: i64| {
            if ms < 1_000 || ms > max_days * 86_400_000 {
                Err(invalid(
                    field,
                    format!("must be between 1 second and {max_days} days"),
                ))
            } else {
                Ok(())
            }
        };
        ttl("tokens.caller_ttl_secs", self.caller_token_ttl_ms, 90)?;
        ttl("tokens.session_ttl_secs", self.session_token_ttl_ms, 1)?;
        ttl("queue.abandon_after_secs", self.abandon_after_ms, 7)?;
        self.routing
            .validate()
            .map_err(|e| invalid("routing", e.to_string()))?;
        Ok(())
    }
}

/// What the hub serves from the guides folder: the packs and their decision tables.
#[derive(Debug)]
pub struct Catalog {
    /// The guide packs.
    pub guides: fieldlens_guides::GuideLibrary,
    /// Their decision tables.
    pub triage: crate::triage::TriageTables,
}

/// Loads and validates the guide packs and decision tables the configuration names.
pub fn load_catalog(config: &Config) -> Result<Catalog, ConfigError> {
    let failed = |reason: String| ConfigError::Guides {
        path: config.guides_dir.display().to_string(),
        reason,
    };
    let guides = fieldlens_guides::GuideLibrary::load_dir(&config.guides_dir)
        .map_err(|e| failed(e.to_string()))?;
    let triage = crate::triage::TriageTables::load(&guides).map_err(failed)?;
    Ok(Catalog { guides, triage })
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let unreadable = |reason: String| ConfigError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if size > MAX_CONFIG_BYTES {
        return Err(unreadable(format!(
            "{size} bytes; the limit is {MAX_CONFIG_BYTES}"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn flags_win_over_file_and_defaults_fill_the_rest() {
        let file = write("listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n");
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Overrides::default()
        };
        let config = Config::load(Some(file.path()), overrides).unwrap();
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.metrics_listen, "127.0.0.1:0".parse().unwrap());
    }

    #[test]
    fn errors_name_the_key() {
        let unknown = write("lissen = \"127.0.0.1:1\"\n");
        let error = Config::load(Some(unknown.path()), Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("lissen"), "{error}");

        let bad_hash =
            write("[[auth.api_keys]]\nid = \"alice\"\nrole = \"technician\"\nsha256 = \"abc\"\n");
        let error = Config::load(Some(bad_hash.path()), Overrides::default()).unwrap_err();
        assert!(
            error.to_string().contains("auth.api_keys[0].sha256"),
            "{error}"
        );

        let missing = Config::load(
            Some(Path::new("/nonexistent/fieldlens.toml")),
            Overrides::default(),
        );
        assert!(matches!(missing, Err(ConfigError::Unreadable { .. })));
    }
}
