//! The hub's side of the QUIC media link: session tokens checked against live cases,
//! photo uploads stored resumably and checked through the capture path, participants
//! joining and leaving recorded in the case log, guide steps pushed to the caller, and
//! the endpoint's counters on `/metrics`.
//!
//! `fieldlens-media` knows a session only by its id and token; this module is where a
//! session becomes a case: the authorizer remembers which case each session serves.

use crate::app::{Hub, MediaInfo, now_ms};
use crate::auth::Principal;
use crate::capture::{MAX_PHOTO_BYTES, task_failed};
use crate::config::Config;
use crate::convert;
use crate::error::HubError;
use crate::journal::Journal;
use bytes::Bytes;
use fieldlens_core::event::CaseEvent;
use fieldlens_core::token::{self, SessionClaims, TokenError, TokenKind};
use fieldlens_core::{Case, CaseId, TechnicianId};
use fieldlens_guides::Lang;
use fieldlens_media::{
    AuthError, LeaveReason, MediaEvent, MediaServer, PhotoSink, Role, ServerConfig, ServerIdentity,
    SessionAuthorizer, SessionGrant, SinkError, Stored, UploadKey, UploadSpec,
};
use fieldlens_proto::v1 as pb;
use fieldlens_store::{Store, StoreError};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};

/// Appended upload bytes are made durable (and acknowledged) about this often.
const SYNC_EVERY_BYTES: u64 = 1024 * 1024;

/// How long open media connections get to close when the hub stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The running media endpoint as the hub reaches it, and which case each session serves.
#[derive(Default)]
pub struct MediaLink {
    server: OnceLock<Arc<MediaServer>>,
    /// Filled when a token for the session is accepted; emptied when the session is over
    /// and its last participant has left.
    cases: Mutex<HashMap<String, CaseId>>,
}

impl std::fmt::Debug for MediaLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLink")
            .field("server", &self.server.get())
            .finish_non_exhaustive()
    }
}

impl MediaLink {
    fn cases(&self) -> MutexGuard<'_, HashMap<String, CaseId>> {
        self.cases.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn case_of(&self, session_id: &str) -> Option<CaseId> {
        self.cases().get(session_id).cloned()
    }
}

/// Starts the media endpoint for `hub`: the development certificate kept in
/// `<data-dir>/media`, tokens verified with the hub's key, photos into the store and the
/// capture path. Returns the endpoint; [`Hub::media_server`] reaches it too.
pub fn start(config: &Config, hub: &Arc<Hub>) -> anyhow::Result<Arc<MediaServer>> {
    use anyhow::Context;
    let mut names = vec!["localhost".to_owned()];
    if let Some(host) = &config.media_advertise {
        names.insert(0, host.clone());
    }
    if !config.media_listen.ip().is_unspecified() {
        names.push(config.media_listen.ip().to_string());
    }
    let dir = config.data_dir.join("media");
    let identity = ServerIdentity::load_or_generate_dev(&dir, &names, SystemTime::now())
        .with_context(|| format!("media certificate in {}", dir.display()))?;
    let mut server_config = ServerConfig::new(config.media_listen);
    server_config.limits.max_photo_bytes = MAX_PHOTO_BYTES as u64;
    let (events, receiver) = mpsc::unbounded_channel();
    let weak = Arc::downgrade(hub);
    let server = MediaServer::start(
        server_config,
        &identity,
        Arc::new(HubAuthorizer { hub: weak.clone() }),
        Arc::new(HubSink {
            hub: weak.clone(),
            uploads: Mutex::new(HashMap::new()),
            kept_bytes: Arc::default(),
        }),
        Arc::new(events),
    )
    .context("starting the media endpoint")?;
    tokio::spawn(record_events(weak, receiver));
    let server = Arc::new(server);
    let bound = server.local_addr();
    let host = config
        .media_advertise
        .clone()
        .unwrap_or_else(|| bound.ip().to_string());
    hub.set_media(MediaInfo {
        endpoint: host_port(&host, bound.port()),
        server_name: config
            .media_advertise
            .clone()
            .unwrap_or_else(|| "localhost".to_owned()),
        certificate_sha256: server.certificate_sha256().to_owned(),
    });
    let _ = hub.media_link.server.set(Arc::clone(&server));
    hub.metrics.media.set(Arc::clone(&server));
    Ok(server)
}

/// `host:port`, with an IPv6 address in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn to_media_role(role: token::Role) -> Role {
    match role {
        token::Role::Caller => Role::Caller,
        token::Role::Technician => Role::Technician,
    }
}

fn to_core_role(role: Role) -> token::Role {
    match role {
        Role::Caller => token::Role::Caller,
        Role::Technician => token::Role::Technician,
    }
}

/// The principal a session participant acts as on its case.
fn principal(grant: &SessionGrant, case: &CaseId) -> Principal {
    match grant.role {
        Role::Caller => Principal::Caller(case.clone()),
        Role::Technician => Principal::Technician(TechnicianId::new(grant.participant_id.clone())),
    }
}

impl Hub {
    /// The media endpoint, once started.
    pub fn media_server(&self) -> Option<&Arc<MediaServer>> {
        self.media_link.server.get()
    }

    /// Whether the token's session is the live session of its (non-final) case, with the
    /// token's technician in it.
    fn session_is_live(&self, claims: &SessionClaims) -> bool {
        let state = self.lock();
        let Some(session) = state
            .active
            .get(&claims.case)
            .and_then(|case| case.session.as_ref())
        else {
            return false;
        };
        session.id == claims.session
            && session.ended_at.is_none()
            && (claims.role == token::Role::Caller
                || session.technician.as_str() == claims.participant)
    }

    /// Closes the media connections of `case`'s session once it has ended or the case is
    /// final; their tokens are refused from then on.
    pub(crate) fn close_media_if_over(&self, case: &Case) {
        let Some(session) = &case.session else { return };
        let reason = if case.status.is_final() {
            format!("case {} is {}", case.id, case.status.as_str())
        } else if session.ended_at.is_some() {
            "the technician ended the session".to_owned()
        } else {
            return;
        };
        if let Some(server) = self.media_server() {
            let closed = server.close_session(session.id.as_str(), &reason);
            if closed > 0 {
                tracing::info!(session = %session.id, closed, %reason, "media session closed");
            }
        }
    }

    /// Shows `step` to the caller of `case` over the media link, in the caller's
    /// language, if the caller is connected. The step is already recorded; the link is
    /// a courtesy, so failures are logged, not returned.
    pub(crate) fn push_step_to_caller(&self, id: &CaseId, step: &str) {
        let Some(server) = self.media_server() else {
            return;
        };
        let case = {
            let state = self.lock();
            match state.active.get(id) {
                Some(case) => case.clone(),
                None => return,
            }
        };
        let Some(session) = case.session.as_ref().filter(|s| s.ended_at.is_none()) else {
            return;
        };
        let message = match self.guide_step_message(&case, step) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(case = %id, step, %error, "pushed step not sent over the media link");
                return;
            }
        };
        if let Err(error) = server.send_control(session.id.as_str(), Role::Caller, message) {
            tracing::debug!(case = %id, step, %error, "pushed step not sent over the media link");
        }
    }

    fn guide_step_message(&self, case: &Case, step: &str) -> Result<pb::MediaControl, HubError> {
        let pack = self.pack_for(case)?;
        let guide_step = pack.require_step(step)?;
        let lang = Lang::for_locale(&case.locale);
        Ok(pb::MediaControl {
            body: Some(pb::media_control::Body::GuideStep(pb::MediaGuideStep {
                guide_id: pack.id().to_owned(),
                step_id: step.to_owned(),
                title: guide_step.title().get(lang).to_owned(),
                instruction: guide_step.instruction().get(lang).to_owned(),
                locale: case.locale.clone(),
                required: guide_step.is_required(),
            })),
        })
    }

    /// Appends a participant's joining or leaving to its case's log; forgets the
    /// session's case once the last participant of a session that is over has left.
    async fn record_participant(&self, grant: &SessionGrant, event: CaseEvent) {
        let Some(case) = self.media_link.case_of(&grant.session_id) else {
            return;
        };
        let left = matches!(event, CaseEvent::ParticipantLeft { .. });
        let kind = event.kind_name();
        let result = self
            .mutate(&principal(grant, &case), &case, |_, _, _| Ok(vec![event]))
            .await;
        if let Err(error) = result {
            // E.g. the case moved on (triaged, closed) while the connection was open.
            tracing::debug!(%case, kind, %error, "media participant event not recorded");
        }
        if left {
            let live = self.lock().active.get(&case).is_some_and(|c| {
                c.session
                    .as_ref()
                    .is_some_and(|s| s.id.as_str() == grant.session_id && s.ended_at.is_none())
            });
            let connected = self
                .media_server()
                .is_some_and(|server| !server.participants(&grant.session_id).is_empty());
            if !live && !connected {
                self.media_link.cases().remove(&grant.session_id);
            }
        }
    }
}

/// Checks session tokens with the hub's key and the case's live session.
struct HubAuthorizer {
    hub: Weak<Hub>,
}

impl SessionAuthorizer for HubAuthorizer {
    fn authorize(&self, token: &str) -> Result<SessionGrant, AuthError> {
        let hub = self.hub.upgrade().ok_or(AuthError::SessionClosed)?;
        let claims: SessionClaims = hub
            .token_signer()
            .verify(TokenKind::Session, token, now_ms())
            .map_err(|error| match error {
                TokenError::Expired { .. } => AuthError::Expired,
                other => AuthError::Invalid(other.to_string()),
            })?;
        if !hub.session_is_live(&claims) {
            return Err(AuthError::SessionClosed);
        }
        hub.media_link
            .cases()
            .insert(claims.session.to_string(), claims.case.clone());
        Ok(SessionGrant {
            session_id: claims.session.to_string(),
            role: to_media_role(claims.role),
            participant_id: claims.participant,
        })
    }
}

/// Keeps uploads in the store (resumable, durable before acknowledged) and hands each
/// finished photo to [`Hub::submit_photo`].
///
/// Every byte is written once: chunks go to the store as they arrive and, once their
/// SHA-256 is verified, become the photo's content-addressed blob where they lie. A
/// writer task per upload stores and hashes the chunks while the stream reads the next
/// ones, so nothing is read back to verify the hash; syncs run in the background
/// through the hub's group commit, and acks follow them. The writer also keeps a copy
/// of the bytes in memory (within [`MAX_KEPT_BYTES`] across uploads), so the check
/// does not read the photo back either, and the chunks become the blob while the photo
/// is checked.
struct HubSink {
    hub: Weak<Hub>,
    /// The uploads whose streams are running.
    uploads: Mutex<HashMap<UploadKey, Arc<Upload>>>,
    /// Declared bytes of the uploads whose bytes are kept in memory.
    kept_bytes: Arc<AtomicU64>,
}

/// Most upload bytes kept in memory for the check, across running uploads; beyond it an
/// upload's photo is read back from the store when it is complete.
const MAX_KEPT_BYTES: u64 = 256 * 1024 * 1024;

/// A share of [`MAX_KEPT_BYTES`], given back on drop.
struct KeptBudget {
    total: Arc<AtomicU64>,
    bytes: u64,
}

impl KeptBudget {
    fn reserve(total: &Arc<AtomicU64>, bytes: u64) -> Option<Self> {
        total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |kept| {
                kept.checked_add(bytes).filter(|&n| n <= MAX_KEPT_BYTES)
            })
            .ok()?;
        Some(KeptBudget {
            total: Arc::clone(total),
            bytes,
        })
    }
}

impl Drop for KeptBudget {
    fn drop(&mut self) {
        self.total.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Chunks an upload's writer may hold before the stream waits for it.
const WRITER_QUEUE_CHUNKS: usize = 4;

/// What the sink keeps in memory for an upload while its stream runs.
struct Upload {
    /// To the writer task, in order; taken when the stream ends.
    chunks: Mutex<Option<mpsc::Sender<(u64, Bytes)>>>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    progress: Arc<Mutex<Progress>>,
    /// Bytes stored so far, or why the writer stopped.
    stored: watch::Sender<Result<u64, String>>,
    /// Bytes known to be durable; the upload stream acknowledges them.
    durable: watch::Sender<u64>,
}

struct Progress {
    /// SHA-256 of the bytes stored so far (unused once the upload is complete).
    hasher: Sha256,
    /// The upload's bytes are verified and kept as its blob.
    complete: bool,
    /// A copy of the bytes stored so far, when the budget allowed one.
    kept: Option<(Vec<u8>, KeptBudget)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Upload {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        lock(&self.progress)
    }
}

/// Stores and hashes an upload's chunks in order, asks for a sync about every
/// [`SYNC_EVERY_BYTES`] and moves the durable offset when it is done.
async fn write_chunks(
    journal: Arc<Journal>,
    key: UploadKey,
    mut chunks: mpsc::Receiver<(u64, Bytes)>,
    upload: Arc<Upload>,
    mut sync_asked: u64,
) {
    while let Some((offset, data)) = chunks.recv().await {
        let progress = Arc::clone(&upload.progress);
        let key = key.clone();
        let written = on_store(&journal, move |store| {
            let stored = store.append_upload(&key.session_id, &key.upload_id, offset, &data)?;
            let mut progress = lock(&progress);
            progress.hasher.update(&data);
            if let Some((kept, _)) = &mut progress.kept {
                kept.extend_from_slice(&data);
            }
            Ok(stored)
        })
        .await;
        let stored = match written {
            Ok(stored) => stored,
            Err(error) => {
                upload
                    .stored
                    .send_modify(|stored| *stored = Err(error.to_string()));
                return;
            }
        };
        journal.wrote();
        upload.stored.send_modify(|written| *written = Ok(stored));
        if stored - sync_asked >= SYNC_EVERY_BYTES {
            sync_asked = stored;
            // The writer goes on meanwhile; a failed sync acknowledges nothing.
            let (journal, upload) = (Arc::clone(&journal), Arc::clone(&upload));
            tokio::spawn(async move {
                if journal.durable().await.is_ok() {
                    upload.durable.send_if_modified(|durable| {
                        let more = stored > *durable;
                        *durable = (*durable).max(stored);
                        more
                    });
                }
            });
        }
    }
}

fn storage(error: impl std::fmt::Display) -> SinkError {
    SinkError::Storage(error.to_string())
}

/// A hub refusal as the uploading client sees it: the photo itself, or the case's
/// state, is refused; storage trouble and shutdown may pass on a retry.
fn refusal(error: HubError) -> SinkError {
    match error {
        HubError::Store(_) | HubError::ShuttingDown => storage(error),
        other => SinkError::Refused(other.to_string()),
    }
}

/// Runs `work` on the store off the async threads.
async fn on_store<T: Send + 'static>(
    journal: &Arc<Journal>,
    work: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SinkError> {
    let journal = Arc::clone(journal);
    crate::bulk::spawn(move || work(journal.store()))
        .await
        .map_err(storage)?
        .map_err(storage)
}

impl HubSink {
    fn hub(&self) -> Result<Arc<Hub>, SinkError> {
        self.hub
            .upgrade()
            .ok_or_else(|| storage("the hub is shutting down"))
    }

    fn uploads(&self) -> MutexGuard<'_, HashMap<UploadKey, Arc<Upload>>> {
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn upload(&self, key: &UploadKey) -> Result<Arc<Upload>, SinkError> {
        self.uploads()
            .get(key)
            .cloned()
            .ok_or_else(|| storage(format!("upload {} was not begun", key.upload_id)))
    }

    /// The case the upload's session serves, and who uploads.
    fn context(hub: &Hub, spec: &UploadSpec) -> Result<(CaseId, Principal), SinkError> {
        let case = hub
            .media_link
            .case_of(&spec.key.session_id)
            .ok_or_else(|| {
                SinkError::Refused(format!("session {} has closed", spec.key.session_id))
            })?;
        let principal = principal(&spec.uploader, &case);
        Ok((case, principal))
    }
}

impl PhotoSink for HubSink {
    async fn begin(&self, spec: &UploadSpec) -> Result<u64, SinkError> {
        let hub = self.hub()?;
        let (case, principal) = Self::context(&hub, spec)?;
        let key = &spec.key;
        // Refuse what the step cannot take now before its bytes travel (a photo the step
        // already has passes, so a finished upload can be answered again).
        hub.check_photo_admission(&principal, &case, &spec.step_id, &spec.sha256)
            .map_err(refusal)?;
        let journal = hub.journal();
        let record = journal
            .store()
            .begin_upload(&key.session_id, &key.upload_id, spec.size, &spec.sha256)
            .map_err(|error| match error {
                StoreError::UploadConflict { .. } => SinkError::Conflict,
                other => storage(other),
            })?;
        journal.wrote();
        let mut hasher = Sha256::new();
        let budget = (!record.complete)
            .then(|| KeptBudget::reserve(&self.kept_bytes, spec.size))
            .flatten();
        let mut kept = Vec::new();
        if record.stored > 0 {
            // What a resume starts from must survive a crash; a start from zero always does.
            journal.durable().await.map_err(storage)?;
            if !record.complete {
                // The running hash (and the copy) starts over the stored prefix, read once.
                let (scope, id, stored) =
                    (key.session_id.clone(), key.upload_id.clone(), record.stored);
                (hasher, kept) = on_store(&journal, move |store| {
                    let bytes = store.upload_bytes(&scope, &id)?;
                    if bytes.len() as u64 != stored {
                        return Err(StoreError::Corrupt {
                            what: "upload chunks",
                            detail: format!(
                                "{scope}/{id}: {} bytes, the record says {stored}",
                                bytes.len()
                            ),
                        });
                    }
                    Ok((Sha256::new_with_prefix(&bytes), bytes))
                })
                .await?;
            }
        }
        let (sender, receiver) = mpsc::channel(WRITER_QUEUE_CHUNKS);
        let upload = Arc::new(Upload {
            chunks: Mutex::new(Some(sender)),
            writer: Mutex::new(None),
            progress: Arc::new(Mutex::new(Progress {
                hasher,
                complete: record.complete,
                kept: budget.map(|budget| {
                    kept.reserve_exact((spec.size as usize).saturating_sub(kept.len()));
                    (kept, budget)
                }),
            })),
            stored: watch::channel(Ok(record.stored)).0,
            durable: watch::channel(record.stored).0,
        });
        let writer = tokio::spawn(write_chunks(
            journal,
            key.clone(),
            receiver,
            Arc::clone(&upload),
            record.stored,
        ));
        *lock(&upload.writer) = Some(writer);
        self.uploads().insert(key.clone(), upload);
        Ok(record.stored)
    }

    async fn append(&self, key: &UploadKey, offset: u64, data: Bytes) -> Result<u64, SinkError> {
        let upload = self.upload(key)?;
        let sender = lock(&upload.chunks).clone();
        let sent = match sender {
            Some(sender) => sender.send((offset, data)).await.is_ok(),
            None => false,
        };
        if let Err(error) = &*upload.stored.borrow() {
            return Err(storage(error));
        }
        if !sent {
            return Err(storage(format!(
                "upload {} is no longer written",
                key.upload_id
            )));
        }
        Ok(*upload.durable.borrow())
    }

    async fn durable_beyond(&self, key: &UploadKey, durable: u64) -> u64 {
        let Some(upload) = self.uploads().get(key).cloned() else {
            return std::future::pending().await;
        };
        let mut durable_now = upload.durable.subscribe();
        let now = durable_now
            .wait_for(|now| *now > durable)
            .await
            .map(|now| *now);
        match now {
            Ok(now) => now,
            Err(_) => std::future::pending().await,
        }
    }

    async fn release(&self, key: &UploadKey) {
        let Some(upload) = self.uploads().remove(key) else {
            return;
        };
        // What the writer holds still lands before a resume asks what is stored.
        lock(&upload.chunks).take();
        let writer = lock(&upload.writer).take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
    }

    async fn finish(
        &self,
        spec: &UploadSpec,
        stored: Stored,
    ) -> Result<pb::PhotoReport, SinkError> {
        let hub = self.hub()?;
        let (case, principal) = Self::context(&hub, spec)?;
        let key = &spec.key;
        let journal = hub.journal();
        let upload = self.upload(key)?;
        let written = upload
            .stored
            .subscribe()
            .wait_for(|stored| stored.as_ref().map_or(true, |&n| n == spec.size))
            .await
            .map_err(storage)?
            .clone();
        written.map_err(storage)?;
        let (complete, actual) = {
            let progress = upload.progress();
            (
                progress.complete,
                hex::encode(progress.hasher.clone().finalize()),
            )
        };
        let (scope, id, sha256) = (
            key.session_id.clone(),
            key.upload_id.clone(),
            spec.sha256.clone(),
        );
        if !complete && actual != spec.sha256 {
            on_store(&journal, move |store| store.discard_upload(&scope, &id)).await?;
            journal.wrote();
            return Err(SinkError::HashMismatch {
                expected: spec.sha256.clone(),
                actual,
            });
        }
        // Verified: the chunks become the photo's blob where they lie, while the photo is
        // checked from memory, or else read back first.
        let kept = upload.progress().kept.take();
        // The budget is given back once the check is done with the bytes.
        let (bytes, storing, _budget) = match kept {
            Some((bytes, budget)) if !complete && bytes.len() as u64 == spec.size => {
                // Every byte sits in the upload's part file: synced, the photo is stored.
                // The check waits for that, as it would slow the sync down by ms on two
                // cores; the part becomes a blob while the photo is checked.
                journal.durable().await.map_err(storage)?;
                stored.now().await;
                let journal = Arc::clone(&journal);
                let storing = tokio::spawn(async move {
                    let blob_journal = Arc::clone(&journal);
                    crate::bulk::spawn(move || blob_journal.store().complete_upload(&scope, &id))
                        .await
                        .map_err(task_failed)??;
                    journal.wrote();
                    // Synced while the photo is checked, the photo's commit has only its
                    // event left to sync.
                    journal.durable().await
                });
                (bytes, Some(storing), Some(budget))
            }
            _ => {
                let bytes = on_store(&journal, move |store| {
                    if complete {
                        return store.blob(&sha256)?.ok_or_else(|| StoreError::Corrupt {
                            what: "blob",
                            detail: format!("{sha256}: the blob of a complete upload is missing"),
                        });
                    }
                    let bytes = store.upload_bytes(&scope, &id)?;
                    store.complete_upload(&scope, &id)?;
                    Ok(bytes)
                })
                .await?;
                // A complete upload was made durable when `begin` found it.
                if !complete {
                    journal.wrote();
                    journal.durable().await.map_err(storage)?;
                }
                stored.now().await;
                (bytes, None, None)
            }
        };
        upload.progress().complete = true;
        // The capture path's commit makes the blob and the photo's event durable.
        let submitted = hub
            .submit_photo(
                &principal,
                &case,
                &spec.step_id,
                Arc::new(bytes),
                spec.sha256.clone(),
                storing,
            )
            .await
            .map_err(refusal)?;
        // A photo the step had already commits nothing: the blob must still be durable.
        journal.durable().await.map_err(storage)?;
        Ok(convert::report_to_wire(&submitted.report))
    }
}

/// Appends joins and leaves to the case log, in the order the endpoint saw them.
async fn record_events(hub: Weak<Hub>, mut events: mpsc::UnboundedReceiver<MediaEvent>) {
    while let Some(event) = events.recv().await {
        let Some(hub) = hub.upgrade() else { return };
        match event {
            MediaEvent::Joined { grant, .. } => {
                let role = to_core_role(grant.role);
                hub.record_participant(&grant, CaseEvent::ParticipantJoined { role })
                    .await;
            }
            MediaEvent::Left { grant, reason } => {
                let reason = match reason {
                    LeaveReason::Bye(reason) => format!("bye: {reason}"),
                    LeaveReason::Closed(error) => error.code.as_str_name().to_owned(),
                    LeaveReason::Lost(reason) => format!("connection lost: {reason}"),
                };
                let event = CaseEvent::ParticipantLeft {
                    role: to_core_role(grant.role),
                    reason: reason.chars().take(200).collect(),
                };
                hub.record_participant(&grant, event).await;
            }
            // Photos are logged by the capture path, rejections are counted by the endpoint.
            MediaEvent::Control { .. }
            | MediaEvent::PhotoChecked { .. }
            | MediaEvent::Rejected { .. } => {}
        }
    }
}

/// The media endpoint's counters on `/metrics`, read from [`MediaServer::stats`] at each
/// scrape; nothing is exported before the endpoint starts.
#[derive(Debug, Default)]
pub struct MediaMetrics {
    server: OnceLock<Arc<MediaServer>>,
}

impl MediaMetrics {
    fn set(&self, server: Arc<MediaServer>) {
        let _ = self.server.set(server);
    }
}

impl Collector for MediaMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(server) = self.server.get() else {
            return Ok(());
        };
        let stats = server.stats();
        let counters: [(&str, &str, u64); 8] = [
            (
                "media_connections_accepted",
                "Media connections whose hello was accepted",
                stats.connections_accepted,
            ),
            (
                "media_connections_rejected",
                "Media connections closed for a protocol error or a refused token",
                stats.connections_rejected,
            ),
            (
                "media_frames_received",
                "Live video frames received from participants",
                stats.frames_received,
            ),
            (
                "media_frames_dropped_late",
                "Frames dropped on arrival: stale or waiting too long for an earlier one",
                stats.frames_dropped_late,
            ),
            (
                "media_frames_dropped_congestion",
                "Frames dropped on the way out: nobody to relay to or over the receiver's queue",
                stats.frames_dropped_congestion,
            ),
            (
                "media_frames_superseded",
                "Queued frames a newer keyframe superseded",
                stats.frames_superseded,
            ),
            (
                "media_photos_completed",
                "Photos uploaded, stored, verified and checked",
                stats.photos_completed,
            ),
            (
                "media_upload_bytes",
                "Photo upload bytes received",
                stats.upload_bytes,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        // The endpoint keeps 50 µs buckets; export a few quantiles of them.
        if stats.relay_dwell.count() == 0 {
            return Ok(());
        }
        let help = "Time relayed frames spent inside the hub, upper bucket edge of the quantile (-1 beyond 20 ms)";
        let gauge_type = ConstGauge::new(0.0f64).metric_type();
        let mut family =
            encoder.encode_descriptor("media_relay_dwell_seconds", help, None, gauge_type)?;
        for (label, q) in [("0.5", 0.5), ("0.99", 0.99), ("0.999", 0.999)] {
            let seconds = stats
                .relay_dwell
                .quantile(q)
                .map_or(-1.0, |d| d.as_secs_f64());
            let labels = [("quantile", label)];
            ConstGauge::new(seconds).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
