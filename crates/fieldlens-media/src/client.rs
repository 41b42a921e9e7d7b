//! The participant's side of the media link: connect with the session token and the
//! pinned certificate fingerprint pairing handed out, exchange control messages, send
//! and receive live video, and upload photos that survive dropped connections.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldlens_proto::v1::media_control::Body;
use fieldlens_proto::v1::{MediaBye, MediaControl, MediaHello, MediaUploadReply, MediaWelcome};
use quinn::RecvStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::proto_core::{
    Attempt, ClientConnection, ErrorCode, FrameHeader, FrameReorder, Limits, MAX_CONTROL_BYTES,
    MAX_UPLOAD_REPLY_BYTES, Photo, ProtocolError, RelayConfig, RelayStats, StreamKind,
    UploadProgress, UploadSender, VideoFrame,
};
use crate::seams::Role;
use crate::server::REORDER_FRAMES;
use crate::tls::{CertificateError, quic_client_config};
use crate::transport::{
    CONTROL_PRIORITY, CongestionControl, FrameOutbox, FramedReader, LinkError, UPLOAD_PRIORITY,
    close_with, read_frame, read_kind, run_frame_sender, transport_config, var_int, write_control,
    write_framed,
};

/// Where and as whom to connect; the fields come from the session pairing returned.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The hub's media endpoint.
    pub server: SocketAddr,
    /// TLS server name (SNI) to present.
    pub server_name: String,
    /// SHA-256 (hex) of the hub's certificate; no other certificate is accepted.
    pub certificate_sha256: String,
    /// The session to join.
    pub session_id: String,
    /// The session token for this participant.
    pub token: String,
    /// Client software and version, for the hub's logs.
    pub client_name: String,
    /// How long to wait for the hub's welcome.
    pub connect_timeout: Duration,
    /// The connection is considered lost after this long without hearing from the hub.
    pub idle_timeout: Duration,
    /// How often to send keep-alives.
    pub keep_alive: Duration,
    /// Bounds of the outgoing video queue.
    pub relay: RelayConfig,
    /// Congestion control of the connection.
    pub congestion: CongestionControl,
}

impl ClientConfig {
    /// A configuration with the usual timeouts: 10 s to connect, 30 s idle, keep-alive every 5 s.
    pub fn new(
        server: SocketAddr,
        certificate_sha256: impl Into<String>,
        session_id: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        ClientConfig {
            server,
            server_name: "localhost".into(),
            certificate_sha256: certificate_sha256.into(),
            session_id: session_id.into(),
            token: token.into(),
            client_name: concat!("fieldlens-media/", env!("CARGO_PKG_VERSION")).into(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(5),
            relay: RelayConfig::default(),
            congestion: CongestionControl::default(),
        }
    }
}

/// What went wrong on the client's side of the link.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The pinned fingerprint or TLS setup cannot be used.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// No local UDP socket could be bound.
    #[error("cannot bind a local UDP socket: {0}")]
    Bind(std::io::Error),
    /// The connection could not be started (bad address or server name).
    #[error("cannot connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or was lost: refused handshake, a certificate that is not
    /// the pinned one, a timeout.
    #[error("connection failed: {0}")]
    Connection(quinn::ConnectionError),
    /// The hub closed the connection with this error: a refused token, a protocol error,
    /// a newer connection for the same role, the session closing.
    #[error("the hub closed the connection: {0}")]
    Closed(ProtocolError),
    /// The hub broke the protocol; the client closed the connection.
    #[error("the hub broke the protocol: {0}")]
    Protocol(ProtocolError),
    /// The request was refused before anything was sent (e.g. an empty photo).
    #[error("invalid request: {0}")]
    Invalid(ProtocolError),
    /// The hub could not store the upload; retry it later.
    #[error("the hub could not store upload {upload_id}; retry later")]
    Storage {
        /// The upload.
        upload_id: String,
    },
    /// The hub refused the photo itself (e.g. capture not started, step full); the
    /// reason arrives as a [`Body::Error`] event with the same upload id.
    #[error("the hub refused upload {upload_id}; its reason follows on the control stream")]
    Refused {
        /// The upload.
        upload_id: String,
    },
    /// A stream ended unexpectedly.
    #[error("{0}")]
    Stream(String),
    /// No welcome arrived in time.
    #[error("no welcome from the hub within {0:?}")]
    Timeout(Duration),
}

impl From<quinn::ConnectionError> for ClientError {
    fn from(error: quinn::ConnectionError) -> Self {
        match error {
            quinn::ConnectionError::ApplicationClosed(close) => ClientError::Closed(
                ProtocolError::from_wire(close.error_code.into_inner(), &close.reason),
            ),
            other => ClientError::Connection(other),
        }
    }
}

impl From<LinkError> for ClientError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Protocol(error) => ClientError::Protocol(error),
            LinkError::Connection(error) => error.into(),
            LinkError::StreamEnded(code) => {
                ClientError::Stream(format!("the hub ended the stream with code {code}"))
            }
        }
    }
}

/// What an upload achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReceipt {
    /// The upload.
    pub upload_id: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, verified by the hub.
    pub sha256: String,
    /// Bytes the hub already held when this attempt started (from an earlier one).
    pub resumed_from: u64,
    /// Photo bytes this attempt sent.
    pub bytes_sent: u64,
}

/// A participant's connection to the hub's media endpoint.
pub struct MediaClient {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    welcome: MediaWelcome,
    role: Role,
    limits: Limits,
    control: mpsc::Sender<MediaControl>,
    events: mpsc::Receiver<Body>,
    frames: mpsc::Receiver<VideoFrame>,
    reorder: FrameReorder,
    ready: VecDeque<VideoFrame>,
    outbox: Arc<FrameOutbox>,
    failure: Arc<Mutex<Option<ProtocolError>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for MediaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaClient")
            .field("remote", &self.connection.remote_address())
            .field("welcome", &self.welcome)
            .finish_non_exhaustive()
    }
}

/// Frames received but not yet taken by [`MediaClient::next_frame`]; beyond this the
/// newest are dropped (a viewer that falls behind loses frames, not latency).
const RECEIVED_FRAMES: usize = 64;
/// Control messages received but not yet taken by [`MediaClient::next_event`].
const RECEIVED_EVENTS: usize = 1024;

impl MediaClient {
    /// Connects, presents the token and waits for the hub's welcome.
    pub async fn connect(config: &ClientConfig) -> Result<Self, ClientError> {
        let mut client_config = quic_client_config(&config.certificate_sha256)?;
        client_config.transport_config(Arc::new(transport_config(
            config.idle_timeout,
            Some(config.keep_alive),
            config.congestion,
        )));
        let bind: SocketAddr = if config.server.is_ipv6() {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let endpoint = quinn::Endpoint::client(bind).map_err(ClientError::Bind)?;
        let connecting =
            endpoint.connect_with(client_config, config.server, &config.server_name)?;
        let handshake = async {
            let connection = connecting.await?;
            let (mut send, recv) = connection.open_bi().await?;
            let _ = send.set_priority(CONTROL_PRIORITY);
            let hello = MediaControl {
                body: Some(Body::Hello(MediaHello {
                    token: config.token.clone(),
                    session_id: config.session_id.clone(),
                    client: config.client_name.clone(),
                })),
            };
            write_framed(&mut send, Some(StreamKind::Control), &[&hello]).await?;
            let mut reader = FramedReader::new(recv, "control message", MAX_CONTROL_BYTES);
            let mut machine = ClientConnection::new();
            let first = match reader.next::<MediaControl>().await {
                Ok(Some(first)) => first,
                Ok(None) => {
                    return Err(ClientError::Stream(
                        "the hub ended the control stream".into(),
                    ));
                }
                // A refused hello closes the connection; report the hub's reason.
                Err(LinkError::Connection(error)) => return Err(error.into()),
                Err(error) => return Err(error.into()),
            };
            if let Err(error) = machine.on_control(&first) {
                close_with(&connection, &error);
                return Err(ClientError::Protocol(error));
            }
            Ok((connection, send, reader, machine))
        };
        let (connection, send, reader, machine) =
            tokio::time::timeout(config.connect_timeout, handshake)
                .await
                .map_err(|_| ClientError::Timeout(config.connect_timeout))??;
        let welcome = machine
            .welcome()
            .cloned()
            .ok_or_else(|| ClientError::Stream("no welcome".into()))?;
        let role = Role::from_wire(welcome.role).ok_or_else(|| {
            ClientError::Protocol(ProtocolError::malformed("welcome names no role"))
        })?;
        let limits = Limits::from_wire(welcome.limits.as_ref());

        let failure = Arc::new(Mutex::new(None));
        let (control_tx, control_rx) = mpsc::channel::<MediaControl>(256);
        let (events_tx, events_rx) = mpsc::channel(RECEIVED_EVENTS);
        let (frames_tx, frames_rx) = mpsc::channel(RECEIVED_FRAMES);
        let outbox = FrameOutbox::new(config.relay, None);
        let watcher = Watcher {
            connection: connection.clone(),
            failure: failure.clone(),
            max_frame_bytes: limits.max_frame_bytes,
        };
        let tasks = vec![
            tokio::spawn(write_control(send, control_rx)),
            tokio::spawn(watcher.clone().read_control(reader, machine, events_tx)),
            tokio::spawn(watcher.clone().read_frame_streams(frames_tx.clone())),
            tokio::spawn(watcher.read_datagrams(frames_tx)),
            tokio::spawn(run_frame_sender(connection.clone(), outbox.clone())),
        ];
        Ok(MediaClient {
            endpoint,
            connection,
            welcome,
            role,
            limits,
            control: control_tx,
            events: events_rx,
            frames: frames_rx,
            reorder: FrameReorder::new(REORDER_FRAMES),
            ready: VecDeque::new(),
            outbox,
            failure,
            tasks,
        })
    }

    /// The hub's welcome: session, role, who else is present, limits.
    pub fn welcome(&self) -> &MediaWelcome {
        &self.welcome
    }

    /// The role the token granted.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits the hub enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The current round-trip time estimate.
    pub fn rtt(&self) -> Duration {
        self.connection.rtt()
    }

    /// Counters of the outgoing video queue (frames sent and dropped).
    pub fn uplink_stats(&self) -> RelayStats {
        self.outbox.stats()
    }

    /// Sends a control message (a technician's guide step, capture request or annotation).
    pub async fn send_control(&self, body: Body) -> Result<(), ClientError> {
        let message = MediaControl { body: Some(body) };
        crate::proto_core::validate_control(&message).map_err(ClientError::Invalid)?;
        if self.control.send(message).await.is_err() {
            return Err(self.closed().await);
        }
        Ok(())
    }

    /// The next control message from the hub: verdicts, guide steps, participants joining
    /// and leaving, errors. Fails once the connection has ended, saying why.
    pub async fn next_event(&mut self) -> Result<Body, ClientError> {
        match self.events.recv().await {
            Some(body) => Ok(body),
            None => Err(self.closed().await),
        }
    }

    /// Queues a video frame for the hub; returns whether it was queued (the drop policy
    /// refuses stale frames and, under congestion, the rest of a group).
    pub fn send_frame(&self, header: FrameHeader, payload: &[u8]) -> Result<bool, ClientError> {
        if payload.is_empty() || payload.len() > self.limits.max_frame_bytes as usize {
            return Err(ClientError::Invalid(ProtocolError::new(
                ErrorCode::TooLarge,
                format!(
                    "a video frame must hold 1 to {} bytes, this one holds {}",
                    self.limits.max_frame_bytes,
                    payload.len()
                ),
            )));
        }
        let frame = VideoFrame::new(header, payload);
        Ok(self.outbox.push(frame, std::time::Instant::now()).queued)
    }

    /// The next video frame from the other participant, in order and decodable: late
    /// frames wait briefly for earlier ones, stale ones are dropped. Fails once the
    /// connection has ended.
    pub async fn next_frame(&mut self) -> Result<VideoFrame, ClientError> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Ok(frame);
            }
            let Some(frame) = self.frames.recv().await else {
                return Err(self.closed().await);
            };
            self.ready.extend(self.reorder.push(frame));
        }
    }

    /// Uploads `photo` for `step_id` under `upload_id` and returns once the hub has
    /// stored it durably and verified its SHA-256; its verdict follows as a
    /// [`Body::PhotoVerdict`] event. A first attempt ([`Attempt::First`]) sends its bytes at
    /// once, without waiting a round trip for the hub's resume offset. After a dropped
    /// connection, retry on a new client with the same id ([`Attempt::Retry`]): it asks the
    /// hub where its last durable byte is and sends only the rest.
    pub async fn upload(
        &self,
        upload_id: &str,
        step_id: &str,
        photo: &Photo,
        attempt: Attempt,
    ) -> Result<UploadReceipt, ClientError> {
        self.upload_photo_in_chunks(upload_id, step_id, photo, attempt, usize::MAX)
            .await
    }

    /// An upload `attempt` with chunks of at most `chunk_bytes`.
    pub async fn upload_photo_in_chunks(
        &self,
        upload_id: &str,
        step_id: &str,
        photo: &Photo,
        attempt: Attempt,
        chunk_bytes: usize,
    ) -> Result<UploadReceipt, ClientError> {
        let sender = UploadSender::new(upload_id, step_id, photo, attempt, &self.limits)
            .map_err(ClientError::Invalid)?
            .with_chunk_bytes(chunk_bytes);
        let (resumed_from, bytes_sent) = match self.run_upload(sender).await {
            Ok(progress) => progress,
            Err(LinkError::StreamEnded(code)) if code == var_int(ErrorCode::StorageFailed) => {
                return Err(ClientError::Storage {
                    upload_id: upload_id.to_owned(),
                });
            }
            Err(LinkError::StreamEnded(code)) if code == var_int(ErrorCode::PhotoRefused) => {
                return Err(ClientError::Refused {
                    upload_id: upload_id.to_owned(),
                });
            }
            Err(LinkError::Connection(_)) => return Err(self.closed().await),
            Err(error) => return Err(error.into()),
        };
        Ok(UploadReceipt {
            upload_id: upload_id.to_owned(),
            size: photo.bytes().len() as u64,
            sha256: photo.sha256().to_owned(),
            resumed_from,
            bytes_sent,
        })
    }

    /// Runs one upload stream; returns where the hub resumed it and the bytes sent.
    async fn run_upload(&self, sender: UploadSender) -> Result<(u64, u64), LinkError> {
        let (mut send, recv) = self.connection.open_bi().await?;
        let _ = send.set_priority(UPLOAD_PRIORITY);
        write_framed(
            &mut send,
            Some(StreamKind::PhotoUpload),
            &[&sender.start_request()],
        )
        .await?;
        let mut replies = FramedReader::new(recv, "upload reply", MAX_UPLOAD_REPLY_BYTES);
        let from_start = sender.sends_from_start();
        let sender = Mutex::new(sender);
        let lock = || sender.lock().unwrap_or_else(|p| p.into_inner());
        if !from_start {
            // A retry sends nothing before it knows where the hub's bytes end.
            let reply = next_reply(&mut replies).await?;
            lock().on_reply(reply)?;
        }
        let write = async {
            loop {
                let chunk = lock().next_chunk();
                let Some(mut chunk) = chunk else { break };
                send.write_all_chunks(&mut chunk).await?;
            }
            let _ = send.finish();
            Ok::<(), LinkError>(())
        };
        let read = async {
            loop {
                let reply = next_reply(&mut replies).await?;
                if lock().on_reply(reply)? == UploadProgress::Complete {
                    return Ok::<(), LinkError>(());
                }
            }
        };
        tokio::try_join!(write, read)?;
        let sender = lock();
        Ok((sender.resumed_from().unwrap_or(0), sender.bytes_sent()))
    }

    /// Says bye and waits (briefly) for the hub to close the connection.
    pub async fn bye(self, reason: &str) -> Result<(), ClientError> {
        let bye = Body::Bye(MediaBye {
            reason: reason.to_owned(),
        });
        self.send_control(bye).await?;
        let closed = tokio::time::timeout(Duration::from_secs(5), self.connection.closed()).await;
        match closed {
            Ok(quinn::ConnectionError::ApplicationClosed(close))
                if close.error_code == var_int(ErrorCode::None) =>
            {
                Ok(())
            }
            Ok(other) => Err(other.into()),
            Err(_) => Err(ClientError::Timeout(Duration::from_secs(5))),
        }
    }

    /// Why the connection ended (waits for it to end).
    async fn closed(&self) -> ClientError {
        let error = self.connection.closed().await;
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match failure {
            Some(failure) => ClientError::Protocol(failure),
            None => error.into(),
        }
    }
}

impl Drop for MediaClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.connection
            .close(var_int(ErrorCode::None), b"client gone");
        self.endpoint
            .close(var_int(ErrorCode::None), b"client gone");
    }
}

async fn next_reply(replies: &mut FramedReader) -> Result<MediaUploadReply, LinkError> {
    replies.next().await?.ok_or_else(|| {
        LinkError::Protocol(ProtocolError::malformed(
            "the hub ended the upload stream before completing it",
        ))
    })
}

/// What the client's background tasks share.
#[derive(Clone)]
struct Watcher {
    connection: quinn::Connection,
    failure: Arc<Mutex<Option<ProtocolError>>>,
    max_frame_bytes: u32,
}

impl Watcher {
    /// Closes the connection because the hub broke the protocol.
    fn fail(&self, error: ProtocolError) {
        tracing::warn!(%error, "the hub broke the media protocol");
        close_with(&self.connection, &error);
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(error);
    }

    fn end(&self, error: LinkError) {
        if let LinkError::Protocol(error) = error {
            self.fail(error);
        }
    }

    async fn read_control(
        self,
        mut reader: FramedReader,
        mut machine: ClientConnection,
        events: mpsc::Sender<Body>,
    ) {
        loop {
            match reader.next::<MediaControl>().await {
                Ok(Some(message)) => {
                    if let Err(error) = machine.on_control(&message) {
                        return self.fail(error);
                    }
                    if let Some(body) = message.body
                        && events.send(body).await.is_err()
                    {
                        return;
                    }
                }
                Ok(None) => {
                    return self.fail(ProtocolError::new(
                        ErrorCode::UnexpectedMessage,
                        "the hub ended the control stream",
                    ));
                }
                Err(error) => return self.end(error),
            }
        }
    }

    async fn read_frame_streams(self, frames: mpsc::Sender<VideoFrame>) {
        while let Ok(recv) = self.connection.accept_uni().await {
            tokio::spawn(self.clone().read_frame_stream(recv, frames.clone()));
        }
    }

    async fn read_frame_stream(self, mut recv: RecvStream, frames: mpsc::Sender<VideoFrame>) {
        let frame = async {
            let kind = read_kind(&mut recv).await?;
            ClientConnection::new().on_stream(kind, false)?;
            read_frame(&mut recv, self.max_frame_bytes).await
        }
        .await;
        match frame {
            Ok(frame) => {
                let _ = frames.try_send(frame);
            }
            Err(error) => self.end(error),
        }
    }

    async fn read_datagrams(self, frames: mpsc::Sender<VideoFrame>) {
        while let Ok(datagram) = self.connection.read_datagram().await {
            let frame = match datagram.first().map(|b| StreamKind::from_byte(*b)) {
                Some(Ok(StreamKind::VideoFrame)) => {
                    VideoFrame::decode(datagram.slice(1..), self.max_frame_bytes)
                }
                Some(Err(error)) => Err(error),
                _ => Err(ProtocolError::new(
                    ErrorCode::UnknownStreamKind,
                    "the hub sent a datagram that is not a video frame",
                )),
            };
            match frame {
                Ok(frame) => {
                    let _ = frames.try_send(frame);
                }
                Err(error) => return self.fail(error),
            }
        }
    }
}
