//! Protocol errors and their documented codes.

/// The documented error codes (`MediaErrorCode` in `media.proto`); each is also the
/// QUIC application error code a connection is closed with.
pub use fieldlens_proto::v1::MediaErrorCode as ErrorCode;

/// A violation of the media protocol. The connection it happened on is closed with
/// [`ProtocolError::code`] and the message as the reason; nothing else is affected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({})", code.as_str_name())]
pub struct ProtocolError {
    /// The code sent to the peer.
    pub code: ErrorCode,
    /// A sentence naming what was wrong.
    pub message: String,
}

impl ProtocolError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ProtocolError {
            code,
            message: message.into(),
        }
    }

    /// A [`ErrorCode::Malformed`] error.
    pub fn malformed(message: impl Into<String>) -> Self {
        ProtocolError::new(ErrorCode::Malformed, message)
    }

    /// A [`ErrorCode::TooLarge`] error for `what` of `len` bytes over `limit`.
    pub fn too_large(what: &str, len: usize, limit: usize) -> Self {
        ProtocolError::new(
            ErrorCode::TooLarge,
            format!("{what} of {len} bytes exceeds the limit of {limit}"),
        )
    }

    /// The error a peer's close code and reason describe.
    pub fn from_wire(code: u64, reason: &[u8]) -> Self {
        let code = i32::try_from(code)
            .ok()
            .and_then(|c| ErrorCode::try_from(c).ok())
            .unwrap_or(ErrorCode::Internal);
        ProtocolError::new(code, String::from_utf8_lossy(reason).into_owned())
    }
}
