//! The hub's media endpoint: accepts participants' QUIC connections, checks the token in
//! each hello, relays control messages and live video between the two sides of a
//! session, and takes photo uploads into the hub's [`PhotoSink`].
//!
//! It knows a session only by the id a token grants; everything else about cases lives
//! behind the seams in [`crate::seams`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fieldlens_proto::v1::media_control::Body;
use fieldlens_proto::v1::{
    MediaControl, MediaError, MediaParticipant, MediaParticipantJoined, MediaParticipantLeft,
    MediaPhotoVerdict, MediaUploadRequest, MediaWelcome,
};
use quinn::{RecvStream, SendStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::proto_core::{
    ControlOutcome, ErrorCode, FrameReorder, Limits, MAX_CONTROL_BYTES, MAX_UPLOAD_REQUEST_BYTES,
    ProtocolError, RelayConfig, ServerConnection, StreamKind, UploadReceiver, VideoFrame,
    check_from_hub,
};
use crate::seams::{
    LeaveReason, MediaEvent, MediaEventHook, PhotoSink, Role, SessionAuthorizer, SessionGrant,
    SinkError, Stored, UploadKey, UploadSpec,
};
use crate::tls::{CertificateError, ServerIdentity};
use crate::transport::{
    CONTROL_PRIORITY, CongestionControl, DwellHistogram, DwellRecorder, FrameOutbox, FramedReader,
    LinkError, UPLOAD_PRIORITY, close_with, read_frame, read_kind, run_frame_sender,
    transport_config, var_int, write_control, write_framed,
};

/// How the hub's endpoint runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// UDP address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Limits announced in the welcome and enforced.
    pub limits: Limits,
    /// Bounds of each relayed video direction.
    pub relay: RelayConfig,
    /// How long a new connection has to present its hello.
    pub hello_timeout: Duration,
    /// A connection silent for this long is dropped (clients send keep-alives).
    pub idle_timeout: Duration,
    /// Control messages queued for one participant before [`MediaServer::send_control`]
    /// reports back-pressure.
    pub control_queue: usize,
    /// Congestion control of every connection.
    pub congestion: CongestionControl,
}

impl ServerConfig {
    /// Defaults: 64 MiB photos, 1 MiB frames, 10 s to say hello, 30 s idle timeout.
    pub fn new(listen: SocketAddr) -> Self {
        ServerConfig {
            listen,
            limits: Limits::default(),
            relay: RelayConfig::default(),
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            control_queue: 256,
            congestion: CongestionControl::default(),
        }
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate or key was refused.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The UDP socket could not be bound.
    #[error("cannot bind the media endpoint to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Why [`MediaServer::send_control`] did not queue a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendControlError {
    /// The message is invalid or not one the hub sends into a session.
    #[error(transparent)]
    Invalid(#[from] ProtocolError),
    /// Nobody with that role is connected to that session.
    #[error("no {role} is connected to session {session_id}")]
    NotConnected {
        /// The session.
        session_id: String,
        /// The role.
        role: Role,
    },
    /// The participant is not reading its control stream; the message was not queued.
    #[error("the {role} of session {session_id} is not keeping up with control messages")]
    Backpressure {
        /// The session.
        session_id: String,
        /// The role.
        role: Role,
    },
}

/// Frames of one sender that may wait for an earlier one that is late.
pub(crate) const REORDER_FRAMES: usize = 8;

/// Counters since the endpoint started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections whose hello was accepted.
    pub connections_accepted: u64,
    /// Connections closed for a protocol error (including refused tokens).
    pub connections_rejected: u64,
    /// Video frames received from participants.
    pub frames_received: u64,
    /// Received frames dropped on arrival: stale, or waiting too long for an earlier
    /// frame of their group.
    pub frames_dropped_late: u64,
    /// Frames dropped on the way out: nobody to relay to, or over the receiver's queue
    /// bounds (the rest of that group then goes too).
    pub frames_dropped_congestion: u64,
    /// Frames already queued or in flight that a newer keyframe superseded.
    pub frames_superseded: u64,
    /// Photos stored, verified and checked.
    pub photos_completed: u64,
    /// Upload bytes handed to the sink.
    pub upload_bytes: u64,
    /// How long relayed frames stayed in the hub: from fully received to handed to the
    /// receiver's connection.
    pub relay_dwell: DwellHistogram,
}

#[derive(Default)]
struct Counters {
    connections_accepted: AtomicU64,
    connections_rejected: AtomicU64,
    frames_received: AtomicU64,
    frames_dropped_late: AtomicU64,
    frames_dropped_congestion: AtomicU64,
    frames_superseded: AtomicU64,
    photos_completed: AtomicU64,
    upload_bytes: AtomicU64,
    relay_dwell: Arc<DwellRecorder>,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// The hub's QUIC media endpoint. Dropping it stops accepting connections; call
/// [`MediaServer::shutdown`] to also close the open ones.
pub struct MediaServer {
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
    certificate_sha256: String,
}

impl std::fmt::Debug for MediaServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaServer")
            .field("local_addr", &self.endpoint.local_addr().ok())
            .field("certificate_sha256", &self.certificate_sha256)
            .finish_non_exhaustive()
    }
}

impl MediaServer {
    /// Binds `config.listen` and starts accepting connections on the current tokio
    /// runtime. Tokens are checked by `authorizer`, photos go to `sink`, and `events`
    /// hears about joins, leaves, relayed control messages, checked photos and rejected
    /// connections.
    pub fn start<S: PhotoSink>(
        config: ServerConfig,
        identity: &ServerIdentity,
        authorizer: Arc<dyn SessionAuthorizer>,
        sink: Arc<S>,
        events: Arc<dyn MediaEventHook>,
    ) -> Result<Self, ServerError> {
        let mut server_config = identity.quic_server_config()?;
        server_config.transport_config(Arc::new(transport_config(
            config.idle_timeout,
            None,
            config.congestion,
        )));
        let endpoint = quinn::Endpoint::server(server_config, config.listen).map_err(|source| {
            ServerError::Bind {
                addr: config.listen,
                source,
            }
        })?;
        let shared = Arc::new(Shared {
            config,
            authorizer,
            events,
            sessions: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            counters: Counters::default(),
        });
        let accept = tokio::spawn(accept_loop(endpoint.clone(), shared.clone(), sink));
        Ok(MediaServer {
            endpoint,
            shared,
            accept,
            certificate_sha256: identity.sha256().to_owned(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint
            .local_addr()
            .unwrap_or(self.shared.config.listen)
    }

    /// SHA-256 of the certificate the endpoint presents (lowercase hex), for pairing to
    /// hand to clients.
    pub fn certificate_sha256(&self) -> &str {
        &self.certificate_sha256
    }

    /// Queues a control message for the participant with `role` in `session_id`, e.g. a
    /// guide step pushed through the gRPC API. Hellos, welcomes and byes are refused.
    pub fn send_control(
        &self,
        session_id: &str,
        role: Role,
        message: MediaControl,
    ) -> Result<(), SendControlError> {
        check_from_hub(&message)?;
        let session = self.shared.find_session(session_id);
        deliver(session.as_deref(), session_id, role, message)
    }

    /// Who is connected to `session_id` now.
    pub fn participants(&self, session_id: &str) -> Vec<SessionGrant> {
        self.shared
            .find_session(session_id)
            .map(|session| {
                session
                    .participants()
                    .iter()
                    .flatten()
                    .map(|p| p.grant.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Closes every connection of `session_id` with [`ErrorCode::SessionClosed`] (e.g.
    /// when its case closes). Returns how many were closed. Tokens for the session should
    /// be refused from now on by the authorizer.
    pub fn close_session(&self, session_id: &str, reason: &str) -> usize {
        let Some(session) = self.shared.find_session(session_id) else {
            return 0;
        };
        let error = ProtocolError::new(ErrorCode::SessionClosed, reason);
        let participants: Vec<Participant> =
            session.participants().iter().flatten().cloned().collect();
        for participant in &participants {
            participant.close(error.clone());
        }
        participants.len()
    }

    /// Counters since start.
    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ServerStats {
            connections_accepted: load(&c.connections_accepted),
            connections_rejected: load(&c.connections_rejected),
            frames_received: load(&c.frames_received),
            frames_dropped_late: load(&c.frames_dropped_late),
            frames_dropped_congestion: load(&c.frames_dropped_congestion),
            frames_superseded: load(&c.frames_superseded),
            photos_completed: load(&c.photos_completed),
            upload_bytes: load(&c.upload_bytes),
            relay_dwell: c.relay_dwell.snapshot(),
        }
    }

    /// Stops accepting, closes every connection with [`ErrorCode::ShuttingDown`] and
    /// waits (at most `grace`) for peers to acknowledge.
    pub async fn shutdown(&self, grace: Duration) {
        self.accept.abort();
        let sessions: Vec<Arc<Session>> = self.shared.lock_sessions().values().cloned().collect();
        let error = ProtocolError::new(ErrorCode::ShuttingDown, "hub shutting down");
        for session in sessions {
            for participant in session.participants().iter().flatten() {
                participant.close(error.clone());
            }
        }
        self.endpoint
            .close(var_int(ErrorCode::ShuttingDown), b"hub shutting down");
        let _ = tokio::time::timeout(grace, self.endpoint.wait_idle()).await;
    }
}

impl Drop for MediaServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

struct Shared {
    config: ServerConfig,
    authorizer: Arc<dyn SessionAuthorizer>,
    events: Arc<dyn MediaEventHook>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    next_connection: AtomicU64,
    counters: Counters,
}

impl Shared {
    fn lock_sessions(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find_session(&self, session_id: &str) -> Option<Arc<Session>> {
        self.lock_sessions().get(session_id).cloned()
    }

    fn session(&self, session_id: &str) -> Arc<Session> {
        self.lock_sessions()
            .entry(session_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Session {
                    id: session_id.to_owned(),
                    participants: Mutex::new([None, None]),
                    uploads: Mutex::new(HashMap::new()),
                })
            })
            .clone()
    }

    /// Forgets `session` once nobody is connected and no upload runs.
    fn release_if_idle(&self, session: &Session) {
        let mut sessions = self.lock_sessions();
        let idle =
            session.participants().iter().all(Option::is_none) && session.lock_uploads().is_empty();
        let same = sessions
            .get(&session.id)
            .is_some_and(|s| std::ptr::eq(Arc::as_ptr(s), session));
        if idle && same {
            sessions.remove(&session.id);
        }
    }

    fn reject(&self, remote: SocketAddr, grant: Option<SessionGrant>, error: ProtocolError) {
        tracing::info!(%remote, code = error.code.as_str_name(), %error, "media connection closed for a protocol error");
        bump(&self.counters.connections_rejected, 1);
        self.events.on_event(MediaEvent::Rejected {
            remote,
            grant,
            error,
        });
    }
}

/// One session's live state in the hub.
struct Session {
    id: String,
    /// Indexed by [`slot`].
    participants: Mutex<[Option<Participant>; 2]>,
    uploads: Mutex<HashMap<String, UploadEntry>>,
}

fn slot(role: Role) -> usize {
    match role {
        Role::Caller => 0,
        Role::Technician => 1,
    }
}

impl Session {
    fn participants(&self) -> MutexGuard<'_, [Option<Participant>; 2]> {
        self.participants.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn participant(&self, role: Role) -> Option<Participant> {
        self.participants()[slot(role)].clone()
    }

    fn lock_uploads(&self) -> MutexGuard<'_, HashMap<String, UploadEntry>> {
        self.uploads.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connected participant, as the other side and the hub's API reach it.
#[derive(Clone)]
struct Participant {
    connection_id: u64,
    grant: SessionGrant,
    connection: quinn::Connection,
    control: mpsc::Sender<MediaControl>,
    video: Arc<FrameOutbox>,
    /// Why the connection ends, set by whoever ends it first.
    leave: Arc<Mutex<Option<LeaveReason>>>,
}

impl Participant {
    /// Records `reason` unless another was recorded first; returns whether it was.
    fn set_leave(&self, reason: LeaveReason) -> bool {
        let mut leave = self.leave.lock().unwrap_or_else(|p| p.into_inner());
        if leave.is_some() {
            return false;
        }
        *leave = Some(reason);
        true
    }

    fn close(&self, error: ProtocolError) {
        if self.set_leave(LeaveReason::Closed(error.clone())) {
            close_with(&self.connection, &error);
        }
    }
}

fn deliver(
    session: Option<&Session>,
    session_id: &str,
    role: Role,
    message: MediaControl,
) -> Result<(), SendControlError> {
    let not_connected = || SendControlError::NotConnected {
        session_id: session_id.to_owned(),
        role,
    };
    let participant = session
        .and_then(|s| s.participant(role))
        .ok_or_else(not_connected)?;
    participant.control.try_send(message).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => SendControlError::Backpressure {
            session_id: session_id.to_owned(),
            role,
        },
        mpsc::error::TrySendError::Closed(_) => not_connected(),
    })
}

/// Serialises the uploads of one key: a newer stream tells the running one to stop
/// (via `generation`) and waits for it (via `running`) before touching the sink.
struct UploadEntry {
    users: usize,
    running: Arc<tokio::sync::Mutex<()>>,
    generation: Arc<watch::Sender<u64>>,
}

async fn accept_loop<S: PhotoSink>(endpoint: quinn::Endpoint, shared: Arc<Shared>, sink: Arc<S>) {
    while let Some(incoming) = endpoint.accept().await {
        let shared = shared.clone();
        let sink = sink.clone();
        tokio::spawn(async move {
            match incoming.await {
                Ok(connection) => handle_connection(connection, shared, sink).await,
                Err(error) => tracing::debug!(%error, "media handshake failed"),
            }
        });
    }
}

fn hello_required() -> ProtocolError {
    ProtocolError::new(ErrorCode::HelloRequired, "input arrived before the hello")
}

/// Runs `work` while refusing streams and datagrams that arrive before the hello.
async fn before_hello<T>(
    connection: &quinn::Connection,
    machine: &mut ServerConnection,
    work: impl Future<Output = Result<T, LinkError>>,
) -> Result<T, LinkError> {
    tokio::select! {
        result = work => result,
        uni = connection.accept_uni() => {
            let mut recv = uni?;
            let kind = read_kind(&mut recv).await?;
            machine.on_stream(kind, false)?;
            Err(hello_required().into())
        }
        datagram = connection.read_datagram() => {
            machine.on_datagram(datagram?.first().copied())?;
            Err(hello_required().into())
        }
    }
}

/// Waits for the control stream and its hello, and checks the token.
async fn accept_hello(
    connection: &quinn::Connection,
    machine: &mut ServerConnection,
    authorizer: &dyn SessionAuthorizer,
) -> Result<(SessionGrant, SendStream, FramedReader), LinkError> {
    let (send, mut recv) = before_hello(connection, machine, async {
        Ok(connection.accept_bi().await?)
    })
    .await?;
    let kind = before_hello(connection, machine, read_kind(&mut recv)).await?;
    machine.on_stream(kind, true)?;
    let mut reader = FramedReader::new(recv, "control message", MAX_CONTROL_BYTES);
    let hello = before_hello(connection, machine, reader.next::<MediaControl>()).await?;
    let hello = hello.ok_or_else(|| {
        ProtocolError::new(
            ErrorCode::HelloRequired,
            "control stream ended before the hello",
        )
    })?;
    match machine.on_control(hello, authorizer)? {
        ControlOutcome::Welcomed(grant) => Ok((grant, send, reader)),
        _ => Err(hello_required().into()),
    }
}

async fn handle_connection<S: PhotoSink>(
    connection: quinn::Connection,
    shared: Arc<Shared>,
    sink: Arc<S>,
) {
    let remote = connection.remote_address();
    let mut machine = ServerConnection::new();
    let hello = tokio::time::timeout(
        shared.config.hello_timeout,
        accept_hello(&connection, &mut machine, shared.authorizer.as_ref()),
    )
    .await;
    let (grant, mut control_send, control_reader) = match hello {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(LinkError::Protocol(error))) => {
            close_with(&connection, &error);
            shared.reject(remote, None, error);
            return;
        }
        Ok(Err(error)) => {
            tracing::debug!(%remote, %error, "media connection ended before its hello");
            return;
        }
        Err(_) => {
            let error = ProtocolError::new(
                ErrorCode::HelloTimeout,
                format!("no hello within {:?}", shared.config.hello_timeout),
            );
            close_with(&connection, &error);
            shared.reject(remote, None, error);
            return;
        }
    };

    let session = shared.session(&grant.session_id);
    let (control_tx, control_rx) = mpsc::channel(shared.config.control_queue);
    let me = Participant {
        connection_id: shared.next_connection.fetch_add(1, Ordering::Relaxed),
        grant: grant.clone(),
        connection: connection.clone(),
        control: control_tx,
        video: FrameOutbox::new(
            shared.config.relay,
            Some(shared.counters.relay_dwell.clone()),
        ),
        leave: Arc::new(Mutex::new(None)),
    };
    let (replaced, peer) = {
        let mut participants = session.participants();
        let replaced = participants[slot(grant.role)].replace(me.clone());
        (replaced, participants[slot(grant.role.other())].clone())
    };
    if let Some(old) = replaced {
        old.close(ProtocolError::new(
            ErrorCode::Superseded,
            "a newer connection for this session and role replaced this one",
        ));
    }
    bump(&shared.counters.connections_accepted, 1);
    tracing::info!(%remote, session = %grant.session_id, role = %grant.role, "media participant joined");

    let welcome = MediaControl {
        body: Some(Body::Welcome(MediaWelcome {
            session_id: grant.session_id.clone(),
            role: grant.role.to_wire() as i32,
            participant_id: grant.participant_id.clone(),
            present: peer.iter().map(|p| wire_participant(&p.grant)).collect(),
            limits: Some(shared.config.limits.to_wire()),
        })),
    };
    let _ = control_send.set_priority(CONTROL_PRIORITY);
    if write_framed(&mut control_send, None, &[&welcome])
        .await
        .is_ok()
    {
        if let Some(peer) = &peer {
            let joined = Body::ParticipantJoined(MediaParticipantJoined {
                participant: Some(wire_participant(&grant)),
            });
            let _ = peer.control.try_send(MediaControl { body: Some(joined) });
        }
        shared.events.on_event(MediaEvent::Joined {
            grant: grant.clone(),
            remote,
        });

        let link = Arc::new(Link {
            shared: shared.clone(),
            session: session.clone(),
            me: me.clone(),
            grant: grant.clone(),
            connection: connection.clone(),
            machine: Mutex::new(machine),
            inbound: Mutex::new(FrameReorder::new(REORDER_FRAMES)),
        });
        let writer = tokio::spawn(write_control(control_send, control_rx));
        let sender = tokio::spawn(run_frame_sender(connection.clone(), me.video.clone()));
        tokio::select! {
            () = link.clone().read_control(control_reader) => {}
            () = link.clone().accept_streams(sink) => {}
            () = link.clone().read_datagrams() => {}
        }
        let reason = link.leave_reason().await;
        writer.abort();
        sender.abort();
        leave(&shared, &session, &me, reason);
    } else {
        let reason = LeaveReason::Lost("connection lost before the welcome".into());
        leave(&shared, &session, &me, reason);
    }
}

/// Takes `me` out of its session (unless a newer connection already took its place),
/// tells the other side, and reports why it left.
fn leave(shared: &Shared, session: &Session, me: &Participant, reason: LeaveReason) {
    let (still_mine, peer) = {
        let mut participants = session.participants();
        let mine = &mut participants[slot(me.grant.role)];
        let still_mine = mine
            .as_ref()
            .is_some_and(|p| p.connection_id == me.connection_id);
        if still_mine {
            *mine = None;
        }
        (
            still_mine,
            participants[slot(me.grant.role.other())].clone(),
        )
    };
    if still_mine && let Some(peer) = peer {
        let reason_text = match &reason {
            LeaveReason::Bye(reason) => format!("bye: {reason}"),
            LeaveReason::Closed(error) => error.code.as_str_name().to_owned(),
            LeaveReason::Lost(reason) => format!("connection lost: {reason}"),
        };
        let left = Body::ParticipantLeft(MediaParticipantLeft {
            participant: Some(wire_participant(&me.grant)),
            reason: reason_text,
        });
        let _ = peer.control.try_send(MediaControl { body: Some(left) });
    }
    tracing::info!(session = %me.grant.session_id, role = %me.grant.role, ?reason, "media participant left");
    shared.events.on_event(MediaEvent::Left {
        grant: me.grant.clone(),
        reason,
    });
    shared.release_if_idle(session);
}

fn wire_participant(grant: &SessionGrant) -> MediaParticipant {
    MediaParticipant {
        role: grant.role.to_wire() as i32,
        participant_id: grant.participant_id.clone(),
    }
}

/// One authenticated connection.
struct Link {
    shared: Arc<Shared>,
    session: Arc<Session>,
    grant: SessionGrant,
    connection: quinn::Connection,
    me: Participant,
    machine: Mutex<ServerConnection>,
    /// Puts this participant's frames back in order before they are relayed.
    inbound: Mutex<FrameReorder>,
}

impl Link {
    fn machine(&self) -> MutexGuard<'_, ServerConnection> {
        self.machine.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_leave(&self, reason: LeaveReason) -> bool {
        self.me.set_leave(reason)
    }

    /// Closes the connection for `error`; later errors change nothing.
    fn fail(&self, error: ProtocolError) {
        if self.set_leave(LeaveReason::Closed(error.clone())) {
            close_with(&self.connection, &error);
            self.shared.reject(
                self.connection.remote_address(),
                Some(self.grant.clone()),
                error,
            );
        }
    }

    /// Ends quietly on transport errors, closes the connection on protocol errors.
    fn end(&self, error: LinkError) {
        match error {
            LinkError::Protocol(error) => self.fail(error),
            LinkError::Connection(_) | LinkError::StreamEnded(_) => {}
        }
    }

    /// Why the connection ended: as recorded, or as the transport saw it.
    async fn leave_reason(&self) -> LeaveReason {
        let closed = self.connection.closed().await;
        let recorded = self
            .me
            .leave
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        recorded.unwrap_or_else(|| LeaveReason::Lost(closed.to_string()))
    }

    async fn read_control(self: Arc<Self>, mut reader: FramedReader) {
        loop {
            let message = match reader.next::<MediaControl>().await {
                Ok(Some(message)) => message,
                Ok(None) => {
                    self.set_leave(LeaveReason::Lost(
                        "control stream ended without a bye".into(),
                    ));
                    self.connection.close(var_int(ErrorCode::None), b"");
                    return;
                }
                Err(LinkError::StreamEnded(code)) => {
                    self.set_leave(LeaveReason::Lost(format!(
                        "control stream reset with code {code}"
                    )));
                    self.connection.close(var_int(ErrorCode::None), b"");
                    return;
                }
                Err(error) => return self.end(error),
            };
            let outcome = self
                .machine()
                .on_control(message, self.shared.authorizer.as_ref());
            match outcome {
                Ok(ControlOutcome::Relay(message)) => {
                    let peer = self.grant.role.other();
                    if let Err(error) =
                        deliver(Some(&self.session), &self.session.id, peer, message.clone())
                    {
                        tracing::debug!(%error, "control message not relayed");
                    }
                    self.shared.events.on_event(MediaEvent::Control {
                        grant: self.grant.clone(),
                        message,
                    });
                }
                Ok(ControlOutcome::Bye(reason)) => {
                    self.set_leave(LeaveReason::Bye(reason));
                    self.connection.close(var_int(ErrorCode::None), b"bye");
                    return;
                }
                Ok(ControlOutcome::Welcomed(_)) => {
                    return self.fail(ProtocolError::new(
                        ErrorCode::UnexpectedMessage,
                        "a second hello",
                    ));
                }
                Err(error) => return self.fail(error),
            }
        }
    }

    async fn accept_streams<S: PhotoSink>(self: Arc<Self>, sink: Arc<S>) {
        loop {
            tokio::select! {
                bi = self.connection.accept_bi() => {
                    let Ok((send, recv)) = bi else { return };
                    tokio::spawn(self.clone().upload_stream(send, recv, sink.clone()));
                }
                uni = self.connection.accept_uni() => {
                    let Ok(recv) = uni else { return };
                    tokio::spawn(self.clone().frame_stream(recv));
                }
            }
        }
    }

    async fn read_datagrams(self: Arc<Self>) {
        while let Ok(datagram) = self.connection.read_datagram().await {
            let checked = self.machine().on_datagram(datagram.first().copied());
            let frame = checked.and_then(|()| {
                VideoFrame::decode(
                    datagram.slice(1..),
                    self.shared.config.limits.max_frame_bytes,
                )
            });
            match frame {
                Ok(frame) => self.relay_frame(frame),
                Err(error) => return self.fail(error),
            }
        }
    }

    async fn frame_stream(self: Arc<Self>, mut recv: RecvStream) {
        let result = async {
            let kind = read_kind(&mut recv).await?;
            self.machine().on_stream(kind, false)?;
            read_frame(&mut recv, self.shared.config.limits.max_frame_bytes).await
        }
        .await;
        match result {
            Ok(frame) => self.relay_frame(frame),
            Err(error) => self.end(error),
        }
    }

    fn relay_frame(&self, frame: VideoFrame) {
        let arrived = Instant::now();
        let counters = &self.shared.counters;
        bump(&counters.frames_received, 1);
        let (ready, dropped) = {
            let mut inbound = self.inbound.lock().unwrap_or_else(|p| p.into_inner());
            let before = inbound.dropped();
            let ready = inbound.push(frame);
            (ready, inbound.dropped() - before)
        };
        bump(&counters.frames_dropped_late, dropped);
        if ready.is_empty() {
            return;
        }
        let Some(peer) = self.session.participant(self.grant.role.other()) else {
            bump(&counters.frames_dropped_congestion, ready.len() as u64);
            return;
        };
        for frame in ready {
            let before = peer.video.stats();
            let outcome = peer.video.push(frame, arrived);
            let after = peer.video.stats();
            if !outcome.queued {
                bump(&counters.frames_dropped_congestion, 1);
            }
            let superseded = (after.superseded_pending - before.superseded_pending)
                + (after.superseded_in_flight - before.superseded_in_flight);
            bump(&counters.frames_superseded, superseded);
        }
    }

    async fn upload_stream<S: PhotoSink>(
        self: Arc<Self>,
        mut send: SendStream,
        mut recv: RecvStream,
        sink: Arc<S>,
    ) {
        let kind = match read_kind(&mut recv).await {
            Ok(kind) => kind,
            Err(error) => return self.end(error),
        };
        match self.machine().on_stream(kind, true) {
            Ok(StreamKind::PhotoUpload) => {}
            Ok(other) => {
                return self.fail(ProtocolError::new(
                    ErrorCode::UnknownStreamKind,
                    format!("a client cannot open a {other:?} stream now"),
                ));
            }
            Err(error) => return self.fail(error),
        }
        let _ = send.set_priority(UPLOAD_PRIORITY);
        let mut reader = FramedReader::new(recv, "upload request", MAX_UPLOAD_REQUEST_BYTES);
        let limits = self.shared.config.limits;
        let start = match reader.next::<MediaUploadRequest>().await {
            Ok(Some(request)) => UploadReceiver::parse_start(request, &limits),
            Ok(None) => return,
            Err(error) => return self.end(error),
        };
        let start = match start {
            Ok(start) => start,
            Err(error) => return self.fail(error),
        };
        let spec = UploadSpec {
            key: UploadKey {
                session_id: self.session.id.clone(),
                upload_id: start.upload_id.clone(),
            },
            uploader: self.grant.clone(),
            step_id: start.step_id.clone(),
            size: start.size,
            sha256: start.sha256.clone(),
        };
        let turn = UploadTurn::take(&self.session, &spec.key.upload_id).await;
        let result = self
            .receive_upload(&turn, &spec, &start, &mut send, &mut reader, sink.as_ref())
            .await;
        sink.release(&spec.key).await;
        drop(turn);
        self.shared.release_if_idle(&self.session);
        match result {
            Ok(()) => {}
            Err(UploadFailure::Link(error)) => self.end(error),
            Err(UploadFailure::Sink(error)) => match error.to_protocol_error(&spec.key.upload_id) {
                Some(error) => self.fail(error),
                None => {
                    tracing::warn!(upload = %spec.key.upload_id, %error, "photo upload not taken");
                    // Both directions end with the reason, so a client still sending its
                    // first attempt learns it whichever side it notices first.
                    let _ = send.reset(var_int(error.code()));
                    reader.stop(var_int(error.code()));
                    let message = Body::Error(MediaError {
                        code: error.code() as i32,
                        message: error.to_string(),
                        upload_id: spec.key.upload_id.clone(),
                    });
                    let _ = deliver(
                        Some(&self.session),
                        &self.session.id,
                        self.grant.role,
                        MediaControl {
                            body: Some(message),
                        },
                    );
                }
            },
        }
    }

    async fn receive_upload<S: PhotoSink>(
        &self,
        turn: &UploadTurn,
        spec: &UploadSpec,
        start: &fieldlens_proto::v1::MediaUploadStart,
        send: &mut SendStream,
        reader: &mut FramedReader,
        sink: &S,
    ) -> Result<(), UploadFailure> {
        let limits = self.shared.config.limits;
        let durable = sink.begin(spec).await?;
        let mut receiver = UploadReceiver::new(start, durable, &limits)?;
        write_framed(send, None, &[&receiver.resume_reply()]).await?;
        while !receiver.is_fully_received() {
            let request = tokio::select! {
                request = reader.next::<MediaUploadRequest>() => request?,
                durable = sink.durable_beyond(&spec.key, receiver.durable_offset()) => {
                    if let Some(ack) = receiver.on_durable(durable)? {
                        write_framed(send, None, &[&ack]).await?;
                    }
                    continue;
                }
                () = turn.superseded() => {
                    let _ = send.reset(var_int(ErrorCode::Superseded));
                    return Ok(());
                }
            };
            // The client stopped early; what is stored stays for a resume.
            let Some(request) = request else {
                return Ok(());
            };
            let Some((offset, data)) = receiver.on_request(request)? else {
                continue;
            };
            bump(&self.shared.counters.upload_bytes, data.len() as u64);
            let durable = sink.append(&spec.key, offset, data).await?;
            if let Some(ack) = receiver.on_durable(durable)? {
                write_framed(send, None, &[&ack]).await?;
            }
        }
        let (stored, verified) = Stored::new();
        let finishing = sink.finish(spec, stored);
        tokio::pin!(finishing);
        // The client may be gone by now; the verdict still goes to the control streams.
        let mut complete = async || {
            let _ = write_framed(send, None, &[&receiver.complete_reply(&spec.sha256)]).await;
            let _ = send.finish();
        };
        let report = tokio::select! {
            report = &mut finishing => {
                let report = report?;
                complete().await;
                report
            }
            Ok(acknowledged) = verified => {
                // Stored and verified: acknowledged before the photo is checked.
                complete().await;
                let _ = acknowledged.send(());
                finishing.await?
            }
        };
        bump(&self.shared.counters.photos_completed, 1);
        let verdict = MediaControl {
            body: Some(Body::PhotoVerdict(MediaPhotoVerdict {
                upload_id: spec.key.upload_id.clone(),
                step_id: spec.step_id.clone(),
                report: Some(report.clone()),
            })),
        };
        for role in [self.grant.role, self.grant.role.other()] {
            let _ = deliver(Some(&self.session), &self.session.id, role, verdict.clone());
        }
        self.shared.events.on_event(MediaEvent::PhotoChecked {
            spec: spec.clone(),
            report,
        });
        Ok(())
    }
}

enum UploadFailure {
    Link(LinkError),
    Sink(SinkError),
}

impl From<LinkError> for UploadFailure {
    fn from(error: LinkError) -> Self {
        UploadFailure::Link(error)
    }
}

impl From<ProtocolError> for UploadFailure {
    fn from(error: ProtocolError) -> Self {
        UploadFailure::Link(LinkError::Protocol(error))
    }
}

impl From<SinkError> for UploadFailure {
    fn from(error: SinkError) -> Self {
        UploadFailure::Sink(error)
    }
}

/// The right to run one upload key against the sink; released on drop.
struct UploadTurn {
    session: Arc<Session>,
    upload_id: String,
    generation: u64,
    changes: watch::Receiver<u64>,
    _running: tokio::sync::OwnedMutexGuard<()>,
}

impl UploadTurn {
    /// Tells an older stream of the same upload to stop, then waits for its turn.
    async fn take(session: &Arc<Session>, upload_id: &str) -> UploadTurn {
        let (running, generation) = {
            let mut uploads = session.lock_uploads();
            let entry = uploads
                .entry(upload_id.to_owned())
                .or_insert_with(|| UploadEntry {
                    users: 0,
                    running: Arc::new(tokio::sync::Mutex::new(())),
                    generation: Arc::new(watch::Sender::new(0)),
                });
            entry.users += 1;
            (entry.running.clone(), entry.generation.clone())
        };
        generation.send_modify(|g| *g += 1);
        let mine = *generation.borrow();
        let changes = generation.subscribe();
        UploadTurn {
            session: session.clone(),
            upload_id: upload_id.to_owned(),
            generation: mine,
            changes,
            _running: running.lock_owned().await,
        }
    }

    /// Completes when a newer stream for the same upload arrived.
    async fn superseded(&self) {
        let mut changes = self.changes.clone();
        let mine = self.generation;
        let _ = changes.wait_for(|g| *g != mine).await;
    }
}

impl Drop for UploadTurn {
    fn drop(&mut self) {
        let mut uploads = self.session.lock_uploads();
        if let Some(entry) = uploads.get_mut(&self.upload_id) {
            entry.users -= 1;
            if entry.users == 0 {
                uploads.remove(&self.upload_id);
            }
        }
    }
}
