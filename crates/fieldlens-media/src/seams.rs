//! The seams the hub implements: token checks, durable photo storage with the quality
//! check, and a hook that sees what happens in sessions.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use fieldlens_proto::v1::{MediaControl, ParticipantRole, PhotoReport};
use tokio::sync::oneshot;

use crate::proto_core::{ErrorCode, ProtocolError};

/// The part a participant plays in a media session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The customer with the problem, on a phone.
    Caller,
    /// The remote technician or adjuster.
    Technician,
}

impl Role {
    /// The participant on the other end of the session.
    pub fn other(self) -> Role {
        match self {
            Role::Caller => Role::Technician,
            Role::Technician => Role::Caller,
        }
    }

    /// The wire enum.
    pub fn to_wire(self) -> ParticipantRole {
        match self {
            Role::Caller => ParticipantRole::Caller,
            Role::Technician => ParticipantRole::Technician,
        }
    }

    /// The role a wire enum value names, if it names one.
    pub fn from_wire(value: i32) -> Option<Role> {
        match ParticipantRole::try_from(value).ok()? {
            ParticipantRole::Caller => Some(Role::Caller),
            ParticipantRole::Technician => Some(Role::Technician),
            ParticipantRole::Unspecified => None,
        }
    }

    /// Lowercase name for logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caller => "caller",
            Role::Technician => "technician",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a valid token grants: one role in one session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionGrant {
    /// The session the token is bound to.
    pub session_id: String,
    /// The role the token is bound to.
    pub role: Role,
    /// Who holds it: the technician id, or the case's caller id.
    pub participant_id: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is malformed or its signature does not verify.
    #[error("token not accepted: {0}")]
    Invalid(String),
    /// The token was valid but has expired.
    #[error("token expired")]
    Expired,
    /// The token is bound to a session that has ended or that the hub does not know.
    #[error("session closed or unknown")]
    SessionClosed,
}

impl AuthError {
    /// The error code the connection is closed with.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Invalid(_) => ErrorCode::TokenInvalid,
            AuthError::Expired => ErrorCode::TokenExpired,
            AuthError::SessionClosed => ErrorCode::SessionClosed,
        }
    }
}

/// Checks the token a hello presents. Called once per connection, synchronously: it
/// should be a signature check and a lookup, not a network call.
pub trait SessionAuthorizer: Send + Sync + 'static {
    /// The grant the token carries, or why it is refused.
    fn authorize(&self, token: &str) -> Result<SessionGrant, AuthError>;
}

/// Names one upload: upload ids are chosen by clients and unique within a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadKey {
    /// The session the photo belongs to.
    pub session_id: String,
    /// The client's id for the upload.
    pub upload_id: String,
}

/// Everything declared about an upload before its first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSpec {
    /// Which upload.
    pub key: UploadKey,
    /// Who is uploading.
    pub uploader: SessionGrant,
    /// The guide step the photo is for; empty for a free photo.
    pub step_id: String,
    /// Size in bytes, at least 1.
    pub size: u64,
    /// SHA-256 of the bytes, 64 lowercase hex characters.
    pub sha256: String,
}

/// Why a sink could not take or finish an upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The same upload id was declared before with a different size or hash.
    #[error("upload declared before with a different size or hash")]
    Conflict,
    /// The stored bytes do not hash to the declared SHA-256; they have been discarded.
    #[error("stored bytes hash to {actual}, declared {expected}")]
    HashMismatch {
        /// The declared hash.
        expected: String,
        /// The hash of what was stored.
        actual: String,
    },
    /// Storage failed; the client may retry later.
    #[error("storage failed: {0}")]
    Storage(String),
    /// The hub will not take this photo (capture not started, unknown or full step, not
    /// a photo); the reason is for the client. The stored bytes are kept.
    #[error("photo refused: {0}")]
    Refused(String),
}

impl SinkError {
    /// The code a client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            SinkError::Conflict => ErrorCode::UploadInvalid,
            SinkError::HashMismatch { .. } => ErrorCode::HashMismatch,
            SinkError::Storage(_) => ErrorCode::StorageFailed,
            SinkError::Refused(_) => ErrorCode::PhotoRefused,
        }
    }

    /// The protocol error a client sees; `None` when the connection should stay open
    /// (storage failures are not the client's fault, a refused photo is no protocol error).
    pub fn to_protocol_error(&self, upload_id: &str) -> Option<ProtocolError> {
        match self {
            SinkError::Storage(_) | SinkError::Refused(_) => None,
            SinkError::Conflict | SinkError::HashMismatch { .. } => Some(ProtocolError::new(
                self.code(),
                format!("upload {upload_id}: {self}"),
            )),
        }
    }
}

/// Handed to [`PhotoSink::finish`]: the sink calls [`Stored::now`] once the upload's
/// bytes are verified and durable, and the endpoint acknowledges the upload then, before
/// the photo is checked. Dropped without a call, the acknowledgement waits for `finish`
/// to return.
#[derive(Debug)]
pub struct Stored(oneshot::Sender<oneshot::Sender<()>>);

impl Stored {
    /// A signal, and where the endpoint hears it: with a sender to call once the
    /// acknowledgement is out.
    pub fn new() -> (Stored, oneshot::Receiver<oneshot::Sender<()>>) {
        let (sender, receiver) = oneshot::channel();
        (Stored(sender), receiver)
    }

    /// Every byte is verified against the declared SHA-256 and durable: returns once the
    /// endpoint has sent the acknowledgement (or is gone), so that work after it, such as
    /// the check, does not hold the acknowledgement up.
    pub async fn now(self) {
        let (sent, acknowledged) = oneshot::channel();
        if self.0.send(sent).is_ok() {
            let _ = acknowledged.await;
        }
    }
}

/// Durable storage of photo uploads, and the quality check when one is complete.
///
/// The hub calls these from one task per upload, never concurrently for the same key:
/// a newer upload stream for the same key waits until the older one has stopped, and
/// a call is never cancelled half-way. Implementations for a sync store (sled) may
/// block briefly; the quality check in [`PhotoSink::finish`] should run on a blocking
/// thread (`tokio::task::spawn_blocking`).
pub trait PhotoSink: Send + Sync + 'static {
    /// Declares an upload, or declares it again to resume it. Returns how many leading
    /// bytes are already stored durably: 0 for a new upload, up to `spec.size`.
    /// Returns [`SinkError::Conflict`] if the key was declared with another size or hash.
    fn begin(&self, spec: &UploadSpec) -> impl Future<Output = Result<u64, SinkError>> + Send;

    /// Stores `data` at `offset`, which always equals the end of the bytes stored or
    /// appended before. Returns the durable offset: every byte before it survives a
    /// crash. It may lag behind `offset + data.len()` when the sink batches its syncs,
    /// and never goes backwards.
    fn append(
        &self,
        key: &UploadKey,
        offset: u64,
        data: Bytes,
    ) -> impl Future<Output = Result<u64, SinkError>> + Send;

    /// Completes once more than `durable` bytes of the upload are durable, with the new
    /// durable offset: how a sink that syncs in the background gets acknowledgements out
    /// while the client waits for one. Must be cancel-safe. The default never completes
    /// (the durable offsets [`PhotoSink::append`] returns are the only ones).
    fn durable_beyond(&self, key: &UploadKey, durable: u64) -> impl Future<Output = u64> + Send {
        let _ = (key, durable);
        std::future::pending()
    }

    /// The upload stream for `key` has ended, finished or not (the client stopped, the
    /// connection dropped, a newer stream took over). The sink may forget what it kept
    /// in memory for it; a resume starts with [`PhotoSink::begin`] again, once this has
    /// completed (so a sink that writes behind [`PhotoSink::append`] finishes first).
    fn release(&self, key: &UploadKey) -> impl Future<Output = ()> + Send {
        let _ = key;
        std::future::ready(())
    }

    /// Called once all `spec.size` bytes are appended: makes them durable, verifies
    /// their SHA-256 (on mismatch discards them, so a retry starts from zero, and returns
    /// [`SinkError::HashMismatch`]), signals `stored` if it can before the check is done,
    /// checks the photo and returns its report. Must return the same report again for an
    /// upload already finished.
    fn finish(
        &self,
        spec: &UploadSpec,
        stored: Stored,
    ) -> impl Future<Output = Result<PhotoReport, SinkError>> + Send;
}

/// Something that happened on the media link, for the hub's case log and metrics.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A participant presented a valid token and is connected.
    Joined {
        /// Who.
        grant: SessionGrant,
        /// From where.
        remote: SocketAddr,
    },
    /// A participant's connection ended.
    Left {
        /// Who.
        grant: SessionGrant,
        /// Why.
        reason: LeaveReason,
    },
    /// A participant sent a control message that the hub relayed to the other side
    /// (guide step, capture request, annotation).
    Control {
        /// The sender.
        grant: SessionGrant,
        /// The message as relayed.
        message: MediaControl,
    },
    /// A photo was stored, verified, checked, and its verdict sent.
    PhotoChecked {
        /// The upload.
        spec: UploadSpec,
        /// The report sent back.
        report: PhotoReport,
    },
    /// A connection was closed for a protocol error (bad token, malformed input, ...).
    Rejected {
        /// The peer.
        remote: SocketAddr,
        /// Who it was, if the hello had been accepted.
        grant: Option<SessionGrant>,
        /// What was wrong.
        error: ProtocolError,
    },
}

/// Why a participant's connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveReason {
    /// The participant said bye, giving this reason.
    Bye(String),
    /// The hub closed the connection with this error: a protocol error, a newer
    /// connection for the same role ([`ErrorCode::Superseded`]), the session closing, or
    /// the hub shutting down.
    Closed(ProtocolError),
    /// The connection was lost: timed out, or closed by the client without a bye.
    Lost(String),
}

/// Receives [`MediaEvent`]s. Called inline on the connection's task: keep it quick
/// (append to a log, bump a counter, or forward to a channel).
pub trait MediaEventHook: Send + Sync + 'static {
    /// One event.
    fn on_event(&self, event: MediaEvent);
}

/// Ignores every event.
impl MediaEventHook for () {
    fn on_event(&self, _event: MediaEvent) {}
}

/// Forwards every event to a channel; dropped if the receiver is gone.
impl MediaEventHook for tokio::sync::mpsc::UnboundedSender<MediaEvent> {
    fn on_event(&self, event: MediaEvent) {
        let _ = self.send(event);
    }
}
