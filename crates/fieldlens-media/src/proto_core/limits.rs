//! Size limits of every message, and the field checks every control message passes.
//! The numbers are part of the protocol and documented in `media.proto`.

use fieldlens_proto::v1::media_control::Body;
use fieldlens_proto::v1::{MediaAnnotationKind, MediaControl, MediaLimits};
use prost::Message;

use super::{ErrorCode, ProtocolError};
use crate::seams::Role;

/// Largest encoded control message.
pub const MAX_CONTROL_BYTES: usize = 65_536;
/// Largest data field of one upload chunk; [`Limits::max_chunk_bytes`] can only lower it.
pub const MAX_UPLOAD_CHUNK_BYTES: u32 = 262_144;
/// Largest encoded upload request: a full chunk plus its offset and field tags.
pub const MAX_UPLOAD_REQUEST_BYTES: usize = MAX_UPLOAD_CHUNK_BYTES as usize + 64;
/// Largest encoded upload reply.
pub const MAX_UPLOAD_REPLY_BYTES: usize = 1_024;
/// Largest encoded video frame header.
pub const MAX_FRAME_HEADER_BYTES: usize = 128;

const SMALL_BODY_BYTES: usize = 4_096;
const GUIDE_BODY_BYTES: usize = 16_384;
const MAX_TOKEN_BYTES: usize = 2_048;
const MAX_ID_BYTES: usize = 128;
const MAX_UPLOAD_ID_BYTES: usize = 64;
const MAX_ANNOTATION_POINTS: usize = 256;
const MAX_TEXT_BYTES: usize = 512;

/// Limits a hub enforces beyond the fixed protocol ones; announced in the welcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest photo an upload may declare, in bytes.
    pub max_photo_bytes: u64,
    /// Largest data field of one upload chunk (at most [`MAX_UPLOAD_CHUNK_BYTES`]).
    pub max_chunk_bytes: u32,
    /// Largest encoded video frame, without its header.
    pub max_frame_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_photo_bytes: 64 * 1024 * 1024,
            max_chunk_bytes: MAX_UPLOAD_CHUNK_BYTES,
            max_frame_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// The limits as the welcome states them.
    pub fn to_wire(&self) -> MediaLimits {
        MediaLimits {
            max_photo_bytes: self.max_photo_bytes,
            max_chunk_bytes: self.max_chunk_bytes.min(MAX_UPLOAD_CHUNK_BYTES),
            max_frame_bytes: self.max_frame_bytes,
            max_control_bytes: MAX_CONTROL_BYTES as u32,
        }
    }

    /// The limits a welcome states; absent or zero fields fall back to the defaults.
    pub fn from_wire(wire: Option<&MediaLimits>) -> Limits {
        let defaults = Limits::default();
        let Some(wire) = wire else { return defaults };
        let or = |value: u32, default: u32| if value == 0 { default } else { value };
        Limits {
            max_photo_bytes: if wire.max_photo_bytes == 0 {
                defaults.max_photo_bytes
            } else {
                wire.max_photo_bytes
            },
            max_chunk_bytes: or(wire.max_chunk_bytes, defaults.max_chunk_bytes)
                .min(MAX_UPLOAD_CHUNK_BYTES),
            max_frame_bytes: or(wire.max_frame_bytes, defaults.max_frame_bytes),
        }
    }
}

/// The name of a control body, for error messages.
pub(crate) fn body_name(body: &Body) -> &'static str {
    match body {
        Body::Hello(_) => "hello",
        Body::Welcome(_) => "welcome",
        Body::GuideStep(_) => "guide step",
        Body::CaptureRequest(_) => "capture request",
        Body::Annotation(_) => "annotation",
        Body::PhotoVerdict(_) => "photo verdict",
        Body::ParticipantJoined(_) => "participant joined",
        Body::ParticipantLeft(_) => "participant left",
        Body::Bye(_) => "bye",
        Body::Error(_) => "error",
    }
}

/// Checks a control message's size against its body's limit and its fields against
/// their rules. Both sides run it on every message they receive.
pub fn validate_control(message: &MediaControl) -> Result<&Body, ProtocolError> {
    let Some(body) = message.body.as_ref() else {
        return Err(ProtocolError::malformed("control message has no body"));
    };
    let name = body_name(body);
    let limit = match body {
        Body::GuideStep(_) | Body::Annotation(_) => GUIDE_BODY_BYTES,
        Body::PhotoVerdict(_) => MAX_CONTROL_BYTES,
        _ => SMALL_BODY_BYTES,
    };
    let len = message.encoded_len();
    if len > limit {
        return Err(ProtocolError::too_large(name, len, limit));
    }
    match body {
        Body::Hello(hello) => {
            if hello.token.is_empty() {
                return Err(ProtocolError::new(
                    ErrorCode::TokenInvalid,
                    "hello carries no token",
                ));
            }
            check_len("hello token", &hello.token, MAX_TOKEN_BYTES)?;
            check_id("hello session_id", &hello.session_id, MAX_ID_BYTES)?;
            check_len("hello client", &hello.client, MAX_ID_BYTES)?;
        }
        Body::Welcome(welcome) => {
            check_id("welcome session_id", &welcome.session_id, MAX_ID_BYTES)?;
            check_role("welcome role", welcome.role)?;
        }
        Body::GuideStep(step) => {
            check_id("guide step step_id", &step.step_id, MAX_ID_BYTES)?;
            check_len("guide step guide_id", &step.guide_id, MAX_ID_BYTES)?;
        }
        Body::CaptureRequest(request) => {
            check_len(
                "capture request request_id",
                &request.request_id,
                MAX_ID_BYTES,
            )?;
            check_len("capture request step_id", &request.step_id, MAX_ID_BYTES)?;
        }
        Body::Annotation(annotation) => {
            check_id(
                "annotation annotation_id",
                &annotation.annotation_id,
                MAX_UPLOAD_ID_BYTES,
            )?;
            check_len("annotation label", &annotation.label, MAX_TEXT_BYTES)?;
            check_annotation_points(annotation.kind, &annotation.points)?;
        }
        Body::PhotoVerdict(verdict) => {
            check_upload_id(&verdict.upload_id)?;
            if verdict.report.is_none() {
                return Err(ProtocolError::malformed("photo verdict carries no report"));
            }
        }
        Body::ParticipantJoined(joined) => {
            let participant = joined.participant.as_ref();
            check_role("participant joined role", participant.map_or(0, |p| p.role))?;
        }
        Body::ParticipantLeft(left) => {
            let participant = left.participant.as_ref();
            check_role("participant left role", participant.map_or(0, |p| p.role))?;
        }
        Body::Bye(bye) => check_len("bye reason", &bye.reason, MAX_TEXT_BYTES)?,
        Body::Error(error) => {
            if ErrorCode::try_from(error.code).is_err() {
                return Err(ProtocolError::malformed(format!(
                    "error carries unknown code {}",
                    error.code
                )));
            }
        }
    }
    Ok(body)
}

fn check_annotation_points(
    kind: i32,
    points: &[fieldlens_proto::v1::MediaPoint],
) -> Result<(), ProtocolError> {
    let kind = MediaAnnotationKind::try_from(kind)
        .ok()
        .filter(|k| *k != MediaAnnotationKind::Unspecified)
        .ok_or_else(|| ProtocolError::malformed(format!("annotation kind {kind} is not known")))?;
    if points.len() > MAX_ANNOTATION_POINTS {
        return Err(ProtocolError::new(
            ErrorCode::TooLarge,
            format!(
                "annotation has {} points, at most {MAX_ANNOTATION_POINTS} allowed",
                points.len()
            ),
        ));
    }
    let needed = match kind {
        MediaAnnotationKind::Clear => 0,
        MediaAnnotationKind::Point => 1,
        _ => 2,
    };
    if points.len() < needed || (kind == MediaAnnotationKind::Clear && !points.is_empty()) {
        return Err(ProtocolError::malformed(format!(
            "annotation of kind {} has {} points",
            kind.as_str_name(),
            points.len()
        )));
    }
    let in_unit = |v: f32| (0.0..=1.0).contains(&v);
    if let Some(bad) = points.iter().find(|p| !in_unit(p.x) || !in_unit(p.y)) {
        return Err(ProtocolError::malformed(format!(
            "annotation point ({}, {}) lies outside 0..1",
            bad.x, bad.y
        )));
    }
    Ok(())
}

fn check_role(what: &str, role: i32) -> Result<Role, ProtocolError> {
    Role::from_wire(role)
        .ok_or_else(|| ProtocolError::malformed(format!("{what} {role} is not a role")))
}

fn check_len(what: &str, value: &str, max: usize) -> Result<(), ProtocolError> {
    if value.len() > max {
        return Err(ProtocolError::too_large(what, value.len(), max));
    }
    Ok(())
}

fn check_id(what: &str, value: &str, max: usize) -> Result<(), ProtocolError> {
    if value.is_empty() {
        return Err(ProtocolError::malformed(format!("{what} is empty")));
    }
    check_len(what, value, max)
}

/// Upload ids: 1 to 64 bytes of ASCII letters, digits, `.`, `_` or `-`.
pub(crate) fn check_upload_id(upload_id: &str) -> Result<(), ProtocolError> {
    check_id("upload_id", upload_id, MAX_UPLOAD_ID_BYTES)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !upload_id.chars().all(allowed) {
        return Err(ProtocolError::malformed(format!(
            "upload_id {upload_id:?} may hold only letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(())
}

/// Step ids on uploads: empty (a free photo) or at most 128 bytes.
pub(crate) fn check_step_id(step_id: &str) -> Result<(), ProtocolError> {
    check_len("step_id", step_id, MAX_ID_BYTES)
}
