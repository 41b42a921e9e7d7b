//! The hub's side of the QUIC media link: session tokens checked against live cases,
//! photo uploads stored resumably and checked through the capture path, participants
//! joining and leaving recorded in the case log, guide steps pushed to the caller, and
//! the endpoint's counters on `/metrics`.
//!
//! `fieldlens-media` knows a session only by its id and token; this module is where a
//! session becomes a case: the authorizer remembers which case each session serves.

use crate::app::{Hub, MediaInfo, now_ms};
use crate::auth::Principal;
use crate::capture::MAX_PHOTO_BYTES;
use crate::config::Config;
use crate::convert;
use crate::error::HubError;
use bytes::Bytes;
use fieldlens_core::event::CaseEvent;
use fieldlens_core::token::{self, SessionClaims, TokenError, TokenKind};
use fieldlens_core::{Case, CaseId, TechnicianId};
use fieldlens_guides::Lang;
use fieldlens_media::{
    AuthError, LeaveReason, MediaEvent, MediaServer, PhotoSink, Role, ServerConfig, ServerIdentity,
    SessionAuthorizer, SessionGrant, SinkError, UploadKey, UploadSpec,
};
use fieldlens_proto::v1 as pb;
use fieldlens_store::StoreError;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// Appended upload bytes are made durable (and acknowledged) at least this often.
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
            durable: Mutex::new(HashMap::new()),
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
struct HubSink {
    hub: Weak<Hub>,
    /// Bytes of each running upload known to be durable.
    durable: Mutex<HashMap<UploadKey, u64>>,
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

impl HubSink {
    fn hub(&self) -> Result<Arc<Hub>, SinkError> {
        self.hub
            .upgrade()
            .ok_or_else(|| storage("the hub is shutting down"))
    }

    fn set_durable(&self, key: &UploadKey, durable: Option<u64>) {
        let mut map = self.durable.lock().unwrap_or_else(|p| p.into_inner());
        match durable {
            Some(durable) => map.insert(key.clone(), durable),
            None => map.remove(key),
        };
    }

    fn durable(&self, key: &UploadKey) -> u64 {
        let map = self.durable.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).copied().unwrap_or(0)
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
        let store = hub.journal();
        let record = store
            .store()
            .begin_upload(&key.session_id, &key.upload_id, spec.size, &spec.sha256)
            .map_err(|error| match error {
                StoreError::UploadConflict { .. } => SinkError::Conflict,
                other => storage(other),
            })?;
        store.wrote();
        if record.stored > 0 {
            // What a resume starts from must survive a crash; a start from zero always does.
            store.durable().await.map_err(storage)?;
        }
        self.set_durable(key, Some(record.stored));
        Ok(record.stored)
    }

    async fn append(&self, key: &UploadKey, offset: u64, data: Bytes) -> Result<u64, SinkError> {
        let hub = self.hub()?;
        let journal = hub.journal();
        let stored = journal
            .store()
            .append_upload(&key.session_id, &key.upload_id, offset, &data)
            .map_err(storage)?;
        journal.wrote();
        let durable = self.durable(key);
        if stored - durable < SYNC_EVERY_BYTES {
            return Ok(durable);
        }
        journal.durable().await.map_err(storage)?;
        self.set_durable(key, Some(stored));
        Ok(stored)
    }

    async fn finish(&self, spec: &UploadSpec) -> Result<pb::PhotoReport, SinkError> {
        let hub = self.hub()?;
        let (case, principal) = Self::context(&hub, spec)?;
        let key = &spec.key;
        let journal = hub.journal();
        journal.durable().await.map_err(storage)?;
        self.set_durable(key, None);
        let record = journal
            .store()
            .begin_upload(&key.session_id, &key.upload_id, spec.size, &spec.sha256)
            .map_err(storage)?;
        let bytes = {
            let journal = Arc::clone(&journal);
            let (key, complete, sha256) = (key.clone(), record.complete, spec.sha256.clone());
            tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, String), StoreError> {
                let store = journal.store();
                let bytes = if complete {
                    store.blob(&sha256)?.unwrap_or_default()
                } else {
                    store.upload_bytes(&key.session_id, &key.upload_id)?
                };
                let actual = hex::encode(Sha256::digest(&bytes));
                Ok((bytes, actual))
            })
            .await
            .map_err(storage)?
            .map_err(storage)?
        };
        let (bytes, actual) = bytes;
        if actual != spec.sha256 {
            journal
                .store()
                .discard_upload(&key.session_id, &key.upload_id)
                .map_err(storage)?;
            journal.wrote();
            return Err(SinkError::HashMismatch {
                expected: spec.sha256.clone(),
                actual,
            });
        }
        let submitted = hub
            .submit_photo(
                &principal,
                &case,
                &spec.step_id,
                Arc::new(bytes),
                spec.sha256.clone(),
            )
            .await
            .map_err(refusal)?;
        if !record.complete {
            // The photo is a blob now; the chunks can go.
            journal
                .store()
                .complete_upload(&key.session_id, &key.upload_id)
                .map_err(storage)?;
            journal.wrote();
        }
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
