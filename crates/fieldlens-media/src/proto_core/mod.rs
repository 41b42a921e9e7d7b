//! The media link's protocol core: framing, limits, the per-connection state machine,
//! photo upload state and the live-video drop policy. No sockets, no clocks, no tasks:
//! the endpoints in [`crate::server`] and [`crate::client`] feed it bytes and events and
//! do what it answers, so every rule here is tested deterministically.

mod connection;
mod error;
mod framing;
mod limits;
mod upload;
mod video;

pub use connection::{ClientConnection, ControlOutcome, ServerConnection, check_from_hub};
pub use error::{ErrorCode, ProtocolError};
pub use framing::{FrameDecoder, StreamKind, encode_framed, encode_framed_into};
pub use limits::{
    Limits, MAX_CONTROL_BYTES, MAX_FRAME_HEADER_BYTES, MAX_UPLOAD_CHUNK_BYTES,
    MAX_UPLOAD_REPLY_BYTES, MAX_UPLOAD_REQUEST_BYTES, validate_control,
};
pub use upload::{Attempt, Photo, UploadProgress, UploadReceiver, UploadSender, sha256_hex};
pub use video::{
    Admission, FrameCounter, FrameFilter, FrameHeader, FrameReorder, PushOutcome, RelayConfig,
    RelayQueue, RelayStats, VideoFrame,
};
