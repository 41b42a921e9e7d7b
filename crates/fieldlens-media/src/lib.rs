//! The QUIC media link: an IO-free protocol core, the hub endpoint and a client on quinn.
//!
//! - [`proto_core`]: framing, limits, the per-connection state machine, photo upload
//!   state and the live-video drop policy, all without sockets or clocks.
//! - [`MediaServer`]: the hub's endpoint. It knows a session only by its id and the
//!   token presented in the hello; the hub plugs in its store, token check and quality
//!   engine through the traits in [`seams`].
//! - [`MediaClient`]: the participant's side, used by the CLI and tests.
//! - [`tls`]: the development certificate and fingerprint pinning.
//!
//! The wire format is documented in `proto/fieldlens/v1/media.proto`.

pub mod client;
pub mod proto_core;
pub mod seams;
pub mod server;
pub mod tls;
mod transport;

pub use client::{ClientConfig, ClientError, MediaClient, UploadReceipt};
pub use proto_core::{
    Attempt, ErrorCode, FrameCounter, FrameHeader, Limits, Photo, ProtocolError, VideoFrame,
};
pub use seams::{
    AuthError, LeaveReason, MediaEvent, MediaEventHook, PhotoSink, Role, SessionAuthorizer,
    SessionGrant, SinkError, Stored, UploadKey, UploadSpec,
};
pub use server::{MediaServer, SendControlError, ServerConfig, ServerError, ServerStats};
pub use tls::{CertificateError, ServerIdentity};
pub use transport::{CongestionControl, DwellHistogram, transport_config};

/// The ALPN protocol id of the media link.
pub const ALPN: &[u8] = b"fieldlens/1";
