//! Test doubles of the hub's seams — a token table and a photo sink on disk — and a
//! helper that starts a real media endpoint on a free port. Shared with the benchmark.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use fieldlens_media::proto_core::sha256_hex;
use fieldlens_media::{
    AuthError, ClientConfig, MediaClient, MediaEvent, MediaServer, Photo, PhotoSink, Role,
    ServerConfig, ServerIdentity, SessionAuthorizer, SessionGrant, SinkError, Stored, UploadKey,
    UploadSpec,
};
use fieldlens_proto::v1::media_control::Body;
use fieldlens_proto::v1::{PhotoReport, QualityIssue, Verdict};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// Tokens issued from a table, each bound to a session and role, with an expiry.
#[derive(Default)]
pub struct TokenTable {
    entries: Mutex<HashMap<String, (SessionGrant, Instant)>>,
    issued: AtomicU64,
}

impl TokenTable {
    /// A token for `role` in `session`, valid for `lifetime`.
    pub fn issue_for(&self, session: &str, role: Role, lifetime: Duration) -> String {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let token = format!("tok-{session}-{role}-{n}");
        let grant = SessionGrant {
            session_id: session.to_owned(),
            role,
            participant_id: format!("{role}-of-{session}"),
        };
        let expires = Instant::now() + lifetime;
        self.entries
            .lock()
            .unwrap()
            .insert(token.clone(), (grant, expires));
        token
    }

    /// A token for `role` in `session`, valid for ten minutes.
    pub fn issue(&self, session: &str, role: Role) -> String {
        self.issue_for(session, role, Duration::from_secs(600))
    }
}

impl SessionAuthorizer for TokenTable {
    fn authorize(&self, token: &str) -> Result<SessionGrant, AuthError> {
        let entries = self.entries.lock().unwrap();
        let (grant, expires) = entries
            .get(token)
            .ok_or_else(|| AuthError::Invalid("not issued by this hub".into()))?;
        if Instant::now() >= *expires {
            return Err(AuthError::Expired);
        }
        Ok(grant.clone())
    }
}

/// Stores uploads as files under a directory: `<session>/<upload>.part` with the bytes
/// and `<session>/<upload>.meta` with the declared size and hash. Syncs every
/// `sync_every` bytes and reports only synced bytes as durable. Hashes as bytes arrive,
/// so finishing does not read the photo back. File work runs on tokio's blocking
/// threads, as a real sink's should.
pub struct DirSink(Arc<Files>);

/// An upload being written.
struct Progress {
    written: u64,
    synced: u64,
    hasher: Sha256,
}

pub struct Files {
    root: PathBuf,
    sync_every: u64,
    progress: Mutex<HashMap<UploadKey, Progress>>,
    appended: Mutex<HashMap<UploadKey, u64>>,
    durable_total: AtomicU64,
    /// While true, checks wait (after the bytes are stored and verified).
    checks_held: Mutex<bool>,
    checks_released: Condvar,
}

impl DirSink {
    pub fn new(root: &Path, sync_every: u64) -> Self {
        DirSink(Arc::new(Files {
            root: root.to_owned(),
            sync_every,
            progress: Mutex::new(HashMap::new()),
            appended: Mutex::new(HashMap::new()),
            durable_total: AtomicU64::new(0),
            checks_held: Mutex::new(false),
            checks_released: Condvar::new(),
        }))
    }

    /// Makes photo checks wait once their bytes are stored, until [`DirSink::release_checks`].
    pub fn hold_checks(&self) {
        *self.0.checks_held.lock().unwrap() = true;
    }

    /// Lets held and later checks run.
    pub fn release_checks(&self) {
        *self.0.checks_held.lock().unwrap() = false;
        self.0.checks_released.notify_all();
    }

    /// Runs `work` on the files on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Files) -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        let files = self.0.clone();
        tokio::task::spawn_blocking(move || work(&files))
            .await
            .map_err(|e| SinkError::Storage(e.to_string()))?
    }

    /// The stored bytes of an upload.
    pub fn stored(&self, key: &UploadKey) -> Vec<u8> {
        fs::read(self.0.paths(key).0).unwrap_or_default()
    }

    /// Bytes appended to an upload over all attempts (a resend would count twice).
    pub fn appended(&self, key: &UploadKey) -> u64 {
        self.0
            .appended
            .lock()
            .unwrap()
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Durable bytes reported over all uploads.
    pub fn durable_total(&self) -> u64 {
        self.0.durable_total.load(Ordering::Relaxed)
    }

    /// Durable bytes of one upload right now.
    pub fn durable(&self, key: &UploadKey) -> u64 {
        self.0
            .progress
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |p| p.synced)
    }
}

fn storage(error: std::io::Error) -> SinkError {
    SinkError::Storage(error.to_string())
}

fn report_for(jpeg: bool, sha256: &str) -> PhotoReport {
    PhotoReport {
        verdict: if jpeg {
            Verdict::Accept
        } else {
            Verdict::Retake
        } as i32,
        issues: if jpeg {
            Vec::new()
        } else {
            vec![QualityIssue {
                reason: "framing".into(),
                message_en: "This is not a JPEG photo.".into(),
                ..Default::default()
            }]
        },
        sha256: sha256.to_owned(),
        ..Default::default()
    }
}

impl PhotoSink for DirSink {
    async fn begin(&self, spec: &UploadSpec) -> Result<u64, SinkError> {
        let spec = spec.clone();
        self.blocking(move |files| files.begin(&spec)).await
    }

    async fn append(&self, key: &UploadKey, offset: u64, data: Bytes) -> Result<u64, SinkError> {
        let key = key.clone();
        self.blocking(move |files| files.append(&key, offset, &data))
            .await
    }

    async fn finish(&self, spec: &UploadSpec, stored: Stored) -> Result<PhotoReport, SinkError> {
        let spec = spec.clone();
        let verified = spec.clone();
        self.blocking(move |files| files.verify(&verified)).await?;
        stored.now().await;
        self.blocking(move |files| files.judge(&spec)).await
    }
}

impl Files {
    fn paths(&self, key: &UploadKey) -> (PathBuf, PathBuf) {
        let dir = self.root.join(&key.session_id);
        (
            dir.join(format!("{}.part", key.upload_id)),
            dir.join(format!("{}.meta", key.upload_id)),
        )
    }

    fn begin(&self, spec: &UploadSpec) -> Result<u64, SinkError> {
        let (part, meta) = self.paths(&spec.key);
        fs::create_dir_all(part.parent().unwrap()).map_err(storage)?;
        let declared = format!("{} {}", spec.size, spec.sha256);
        match fs::read_to_string(&meta) {
            Ok(existing) if existing != declared => return Err(SinkError::Conflict),
            Ok(_) => {}
            Err(_) => {
                let mut file = fs::File::create(&meta).map_err(storage)?;
                file.write_all(declared.as_bytes()).map_err(storage)?;
                file.sync_all().map_err(storage)?;
            }
        }
        let mut file = fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&part)
            .map_err(storage)?;
        file.sync_all().map_err(storage)?;
        // Resuming: the hash continues from what is stored.
        let mut hasher = Sha256::new();
        let mut stored = Vec::new();
        file.read_to_end(&mut stored).map_err(storage)?;
        hasher.update(&stored);
        let len = stored.len() as u64;
        let progress = Progress {
            written: len,
            synced: len,
            hasher,
        };
        self.progress
            .lock()
            .unwrap()
            .insert(spec.key.clone(), progress);
        Ok(len)
    }

    fn append(&self, key: &UploadKey, offset: u64, data: &[u8]) -> Result<u64, SinkError> {
        let (part, _) = self.paths(key);
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&part)
            .map_err(storage)?;
        let len = file.metadata().map_err(storage)?.len();
        if len != offset {
            return Err(SinkError::Storage(format!(
                "append at {offset} to {len} bytes"
            )));
        }
        file.write_all(data).map_err(storage)?;
        *self
            .appended
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_default() += data.len() as u64;
        let mut uploads = self.progress.lock().unwrap();
        let progress = uploads
            .get_mut(key)
            .ok_or_else(|| SinkError::Storage("append before begin".into()))?;
        progress.hasher.update(data);
        progress.written = offset + data.len() as u64;
        if progress.written - progress.synced >= self.sync_every {
            file.sync_data().map_err(storage)?;
            self.durable_total
                .fetch_add(progress.written - progress.synced, Ordering::Relaxed);
            progress.synced = progress.written;
        }
        Ok(progress.synced)
    }

    /// Syncs a complete upload and checks its hash, discarding it on a mismatch.
    fn verify(&self, spec: &UploadSpec) -> Result<(), SinkError> {
        let (part, meta) = self.paths(&spec.key);
        let mut file = fs::File::open(&part).map_err(storage)?;
        file.sync_all().map_err(storage)?;
        let progress = self.progress.lock().unwrap().remove(&spec.key);
        let actual = match progress {
            Some(progress) => hex::encode(progress.hasher.finalize()),
            // Finished before, by an earlier process: hash what is stored.
            None => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(storage)?;
                sha256_hex(&bytes)
            }
        };
        if actual != spec.sha256 {
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(&meta);
            return Err(SinkError::HashMismatch {
                expected: spec.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// The report for a verified upload: accept a JPEG, retake anything else.
    fn judge(&self, spec: &UploadSpec) -> Result<PhotoReport, SinkError> {
        let held = self.checks_held.lock().unwrap();
        drop(self.checks_released.wait_while(held, |held| *held).unwrap());
        let (part, _) = self.paths(&spec.key);
        let mut magic = [0u8; 2];
        let mut head = fs::File::open(&part).map_err(storage)?;
        let is_jpeg = head.read_exact(&mut magic).is_ok() && magic == [0xff, 0xd8];
        Ok(report_for(is_jpeg, &spec.sha256))
    }
}

/// A media endpoint on a free loopback port with a token table and a sink in a
/// temporary directory.
pub struct TestHub {
    pub server: MediaServer,
    pub tokens: Arc<TokenTable>,
    pub sink: Arc<DirSink>,
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
    _dir: tempfile::TempDir,
}

impl TestHub {
    pub async fn start() -> Self {
        TestHub::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        TestHub::start_in(&std::env::temp_dir(), 64 * 1024, adjust).await
    }

    /// A hub whose sink keeps photos in a new directory under `root`, syncing every
    /// `sync_every` bytes.
    pub async fn start_in(
        root: &Path,
        sync_every: u64,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let dir = tempfile::tempdir_in(root).unwrap();
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
        config.hello_timeout = Duration::from_secs(3);
        config.idle_timeout = Duration::from_secs(5);
        adjust(&mut config);
        let identity =
            ServerIdentity::generate_dev(&["localhost".into()], SystemTime::now()).unwrap();
        let tokens = Arc::new(TokenTable::default());
        let sink = Arc::new(DirSink::new(dir.path(), sync_every));
        let (events_tx, events) = mpsc::unbounded_channel();
        let server = MediaServer::start(
            config,
            &identity,
            tokens.clone(),
            sink.clone(),
            Arc::new(events_tx),
        )
        .unwrap();
        TestHub {
            server,
            tokens,
            sink,
            events,
            _dir: dir,
        }
    }

    /// A client configuration for `role` in `session` with a fresh token.
    pub fn client_config(&self, session: &str, role: Role) -> ClientConfig {
        let token = self.tokens.issue(session, role);
        let mut config = ClientConfig::new(
            self.server.local_addr(),
            self.server.certificate_sha256(),
            session,
            token,
        );
        config.idle_timeout = Duration::from_secs(5);
        config.keep_alive = Duration::from_secs(1);
        config
    }

    pub async fn join(&self, session: &str, role: Role) -> MediaClient {
        MediaClient::connect(&self.client_config(session, role))
            .await
            .unwrap()
    }

    /// The next hook event matching `wanted`, skipping others.
    pub async fn expect_event(&mut self, wanted: impl Fn(&MediaEvent) -> bool) -> MediaEvent {
        within(async {
            loop {
                let event = self.events.recv().await.expect("hub events ended");
                if wanted(&event) {
                    return event;
                }
            }
        })
        .await
    }
}

/// Fails the test if `future` takes more than 10 s.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("timed out after 10 s")
}

/// The next control message matching `wanted`, skipping others.
pub async fn expect_control(client: &mut MediaClient, wanted: impl Fn(&Body) -> bool) -> Body {
    within(async {
        loop {
            let body = client.next_event().await.expect("connection ended");
            if wanted(&body) {
                return body;
            }
        }
    })
    .await
}

/// `len` deterministic bytes that start like a JPEG.
pub fn photo_bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32 % 32) as u8
        })
        .collect();
    bytes[..2].copy_from_slice(&[0xff, 0xd8]);
    bytes
}

/// A photo of [`photo_bytes`].
pub fn photo(len: usize, seed: u8) -> Photo {
    Photo::new(photo_bytes(len, seed).into())
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}
