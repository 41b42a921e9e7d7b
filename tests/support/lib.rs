//! Helpers shared by the end-to-end tests: build and spawn the real `fieldlens` binary on free ports.

pub use fieldlens_scenes as photos;
pub mod walk;

use anyhow::{Context, bail};
use fieldlens_proto::v1::capture_service_client::CaptureServiceClient;
use fieldlens_proto::v1::case_service_client::CaseServiceClient;
use fieldlens_proto::v1::dispatch_service_client::DispatchServiceClient;
use fieldlens_proto::v1::technician_service_client::TechnicianServiceClient;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repo root")
        .to_path_buf()
}

/// The `fieldlens` binary of this build, built once per test process.
pub fn fieldlens_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // Tests run from target/<profile>/deps/; the binary lands in target/<profile>/.
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "--quiet",
            "-p",
            "fieldlens-cli",
            "--bin",
            "fieldlens",
        ]);
        if release {
            build.arg("--release");
        }
        let status = build
            .status()
            .expect("running cargo build for the fieldlens binary");
        assert!(status.success(), "building the fieldlens binary failed");
        let bin = profile_dir.join("fieldlens");
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
}

/// A technician or dispatcher key for the test config.
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// The id it authenticates as.
    pub id: String,
    /// `technician` or `dispatcher`.
    pub role: &'static str,
    /// The secret.
    pub key: String,
}

impl ApiKey {
    /// A fresh random key.
    pub fn new(id: &str, role: &'static str) -> Self {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        ApiKey {
            id: id.to_owned(),
            role,
            key: format!("test_{}", hex::encode(bytes)),
        }
    }
}

/// Writes a hub config with these keys and extra TOML (e.g. a `[routing]` table).
pub fn write_config(dir: &Path, keys: &[ApiKey], extra: &str) -> PathBuf {
    let mut text = String::from(extra);
    for key in keys {
        text.push_str(&format!(
            "\n[[auth.api_keys]]\nid = \"{}\"\nrole = \"{}\"\nsha256 = \"{}\"\n",
            key.id,
            key.role,
            hex::encode(Sha256::digest(key.key.as_bytes()))
        ));
    }
    let path = dir.join("hub.toml");
    std::fs::write(&path, text).expect("writing the test config");
    path
}

/// A running `fieldlens serve` child process.
#[derive(Debug)]
pub struct TestHub {
    child: Child,
    /// gRPC address.
    pub grpc: SocketAddr,
    /// Metrics/probe HTTP address.
    pub metrics: SocketAddr,
    /// QUIC media address, when the hub runs one.
    pub media: Option<SocketAddr>,
    /// stderr of the child, for failure messages.
    stderr_path: PathBuf,
}

impl TestHub {
    /// Starts `fieldlens serve --listen 127.0.0.1:0` on `data_dir` with `config`,
    /// and waits for its `listening` lines.
    pub fn start(data_dir: &Path, config: Option<&Path>) -> anyhow::Result<TestHub> {
        Self::start_with_args(data_dir, config, &[])
    }

    /// As [`TestHub::start`], with extra arguments (`--listen ADDR` replaces the free port).
    pub fn start_with_args(
        data_dir: &Path,
        config: Option<&Path>,
        extra: &[&str],
    ) -> anyhow::Result<TestHub> {
        let stderr_path = data_dir.with_extension(format!("stderr-{}.log", rand::random::<u32>()));
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut command = Command::new(fieldlens_bin());
        command.arg("serve");
        // A restart on the same ports passes its own `--listen`.
        if !extra.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command
            .args(["--log", "info"])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--guides-dir")
            .arg(repo_root().join("guides"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let mut child = command.spawn().context("spawning fieldlens serve")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining so the child never blocks.
                }
            }
        });
        let mut grpc = None;
        let mut metrics = None;
        let mut media = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while grpc.is_none() || metrics.is_none() {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(remaining) {
                Ok(line) => {
                    let Some((name, addr)) = line
                        .strip_prefix("listening ")
                        .and_then(|l| l.split_once('='))
                    else {
                        continue;
                    };
                    let addr: SocketAddr = addr
                        .parse()
                        .with_context(|| format!("bad address in {line:?}"))?;
                    match name {
                        "grpc" => grpc = Some(addr),
                        "metrics" => metrics = Some(addr),
                        "media" => media = Some(addr),
                        _ => {}
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "fieldlens serve did not report its listeners; stderr:\n{}",
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    );
                }
            }
        }
        // The media line, when there is one, follows right after.
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200))
            && let Some(addr) = line.strip_prefix("listening media=")
        {
            media = addr.parse().ok();
        }
        Ok(TestHub {
            child,
            grpc: grpc.expect("checked above"),
            metrics: metrics.expect("checked above"),
            media,
            stderr_path,
        })
    }

    /// `http://host:port` of the gRPC listener.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// A connected channel.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .expect("valid url")
            .connect()
            .await
            .expect("connecting to the test hub")
    }

    /// Kills the process without warning (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("waiting for the hub")
    }

    /// What the hub wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

/// Adds `authorization: Bearer ...`.
#[derive(Clone)]
pub struct Bearer(pub Option<String>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| tonic::Status::internal("bad token"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// An authenticated channel.
pub type Authed = InterceptedService<Channel, Bearer>;

/// A case client with optional credentials.
pub fn case_client(channel: &Channel, credential: Option<&str>) -> CaseServiceClient<Authed> {
    CaseServiceClient::with_interceptor(channel.clone(), Bearer(credential.map(str::to_owned)))
}

/// A technician client.
pub fn tech_client(channel: &Channel, key: &str) -> TechnicianServiceClient<Authed> {
    TechnicianServiceClient::with_interceptor(channel.clone(), Bearer(Some(key.to_owned())))
}

/// A dispatcher client.
pub fn dispatch_client(channel: &Channel, key: &str) -> DispatchServiceClient<Authed> {
    DispatchServiceClient::with_interceptor(channel.clone(), Bearer(Some(key.to_owned())))
}

/// Capture service client with a bearer credential (a caller token or an API key).
pub fn capture_client(channel: &Channel, credential: &str) -> CaptureServiceClient<Authed> {
    CaptureServiceClient::with_interceptor(channel.clone(), Bearer(Some(credential.to_owned())))
}

/// A hub in `dir` with one technician, `tech_id`, online for car cases in uk-london (two at
/// once), offers held for 30 s. Returns the hub, a channel to it and the technician's key.
pub async fn hub_with_car_technician(dir: &Path, tech_id: &str) -> (TestHub, Channel, ApiKey) {
    let tech = ApiKey::new(tech_id, "technician");
    let config = write_config(
        dir,
        std::slice::from_ref(&tech),
        "[routing]\noffer_timeout_ms = 30000\n",
    );
    let hub = TestHub::start(&dir.join("data"), Some(&config)).unwrap();
    let channel = hub.channel().await;
    tech_client(&channel, &tech.key)
        .set_presence(available_in_london(tech_id, "car_damage", "en", 2))
        .await
        .unwrap();
    (hub, channel, tech)
}

/// Presence of a technician available in uk-london with one skill and one language.
pub fn available_in_london(
    display_name: &str,
    skill: &str,
    language: &str,
    capacity: u32,
) -> fieldlens_proto::v1::SetPresenceRequest {
    fieldlens_proto::v1::SetPresenceRequest {
        display_name: display_name.into(),
        skills: vec![skill.into()],
        languages: vec![language.into()],
        regions: vec!["uk-london".into()],
        capacity,
        available: true,
    }
}

/// A valid OpenCase request for an appliance or car case.
pub fn open_request(
    key: &str,
    category: &str,
    locale: &str,
    region: &str,
) -> fieldlens_proto::v1::OpenCaseRequest {
    use fieldlens_proto::v1 as pb;
    pb::OpenCaseRequest {
        kind: if category == "car" {
            pb::CaseKind::CarDamage
        } else {
            pb::CaseKind::Appliance
        } as i32,
        product: Some(pb::Product {
            category: category.into(),
            brand: "Acme".into(),
            model: "X1".into(),
            ..Default::default()
        }),
        locale: locale.into(),
        region: region.into(),
        contact: Some(pb::Contact {
            name: "Test Caller".into(),
            phone: "+447700900123".into(),
            email: String::new(),
        }),
        idempotency_key: key.into(),
        priority: pb::Priority::Normal as i32,
        description: "end-to-end test".into(),
    }
}

/// Simple HTTP GET over a raw socket (the metrics listener speaks HTTP/1.1).
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
