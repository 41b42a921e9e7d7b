//! Length-delimited prost framing and the kind byte that opens every stream.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use fieldlens_proto::v1::MediaStreamKind;
use prost::Message;

use super::{ErrorCode, ProtocolError};

/// What a stream or datagram carries; sent as its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The control stream.
    Control,
    /// A photo upload.
    PhotoUpload,
    /// One video frame.
    VideoFrame,
}

impl StreamKind {
    /// The kind a first byte names.
    pub fn from_byte(byte: u8) -> Result<StreamKind, ProtocolError> {
        match MediaStreamKind::try_from(i32::from(byte)) {
            Ok(MediaStreamKind::Control) => Ok(StreamKind::Control),
            Ok(MediaStreamKind::PhotoUpload) => Ok(StreamKind::PhotoUpload),
            Ok(MediaStreamKind::VideoFrame) => Ok(StreamKind::VideoFrame),
            _ => Err(ProtocolError::new(
                ErrorCode::UnknownStreamKind,
                format!("stream kind byte {byte} is not known"),
            )),
        }
    }

    /// The byte that names this kind.
    pub fn byte(self) -> u8 {
        let kind = match self {
            StreamKind::Control => MediaStreamKind::Control,
            StreamKind::PhotoUpload => MediaStreamKind::PhotoUpload,
            StreamKind::VideoFrame => MediaStreamKind::VideoFrame,
        };
        kind as u8
    }
}

/// Appends `message` to `out` as a varint length followed by the encoded message.
pub fn encode_framed_into<M: Message>(message: &M, out: &mut BytesMut) {
    out.reserve(message.encoded_len() + 10);
    message
        .encode_length_delimited(out)
        .expect("BytesMut grows as needed");
}

/// `message` as a varint length followed by the encoded message.
pub fn encode_framed<M: Message>(message: &M) -> Bytes {
    let mut out = BytesMut::new();
    encode_framed_into(message, &mut out);
    out.freeze()
}

/// Splits a byte stream into length-delimited messages, refusing any longer than its limit
/// as soon as the length prefix is read (before the body is buffered).
#[derive(Debug)]
pub struct FrameDecoder {
    what: &'static str,
    max_len: usize,
    buf: BytesMut,
}

/// A varint longer than this cannot describe any length the protocol allows.
const MAX_VARINT_BYTES: usize = 10;

impl FrameDecoder {
    /// A decoder for messages named `what` (for errors) of at most `max_len` bytes.
    pub fn new(what: &'static str, max_len: usize) -> Self {
        FrameDecoder {
            what,
            max_len,
            buf: BytesMut::new(),
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
    }

    /// Bytes buffered but not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message's bytes, `None` if more input is needed.
    pub fn next_raw(&mut self) -> Result<Option<Bytes>, ProtocolError> {
        let Some((prefix, len)) = parse_length_prefix(&self.buf, self.what, self.max_len)? else {
            return Ok(None);
        };
        if self.buf.len() < prefix + len {
            self.buf.reserve(prefix + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(prefix);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// The next complete message, decoded; `None` if more input is needed.
    pub fn next_message<M: Message + Default>(&mut self) -> Result<Option<M>, ProtocolError> {
        let Some(raw) = self.next_raw()? else {
            return Ok(None);
        };
        M::decode(raw).map(Some).map_err(|e| {
            ProtocolError::malformed(format!("{} could not be decoded: {e}", self.what))
        })
    }

    /// Checks that the stream did not end inside a message.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::malformed(format!(
                "stream ended inside a {} ({} bytes left over)",
                self.what,
                self.buf.len()
            )))
        }
    }
}

/// Reads a varint length prefix at the start of `buf`: `(prefix bytes, length)`, or `None`
/// if `buf` ends inside the prefix. A length over `max_len` is an error.
pub(crate) fn parse_length_prefix(
    buf: &[u8],
    what: &str,
    max_len: usize,
) -> Result<Option<(usize, usize)>, ProtocolError> {
    let mut len: u64 = 0;
    for (i, byte) in buf.iter().take(MAX_VARINT_BYTES).enumerate() {
        len |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > max_len {
                return Err(ProtocolError::too_large(what, len, max_len));
            }
            return Ok(Some((i + 1, len)));
        }
    }
    if buf.len() >= MAX_VARINT_BYTES {
        return Err(ProtocolError::malformed(format!(
            "{what} length prefix is not a valid varint"
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use fieldlens_proto::v1::{MediaBye, MediaControl, media_control::Body};

    use super::*;

    fn bye(reason: &str) -> MediaControl {
        MediaControl {
            body: Some(Body::Bye(MediaBye {
                reason: reason.into(),
            })),
        }
    }

    #[test]
    fn messages_split_across_reads_come_out_whole_and_in_order() {
        let mut wire = BytesMut::new();
        for reason in ["one", "two", &"x".repeat(300)] {
            encode_framed_into(&bye(reason), &mut wire);
        }
        let mut decoder = FrameDecoder::new("control message", 1024);
        let mut out = Vec::new();
        for byte in wire.iter() {
            decoder.push(&[*byte]);
            while let Some(message) = decoder.next_message::<MediaControl>().unwrap() {
                out.push(message);
            }
        }
        assert_eq!(out, vec![bye("one"), bye("two"), bye(&"x".repeat(300))]);
        decoder.finish().unwrap();
    }

    #[test]
    fn an_oversized_length_is_refused_before_its_body_arrives() {
        let mut decoder = FrameDecoder::new("control message", 100);
        decoder.push(&[0xe5, 0x07]); // 997
        let error = decoder.next_raw().unwrap_err();
        assert_eq!(error.code, ErrorCode::TooLarge);
        assert!(error.message.contains("997"), "{error}");
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut decoder = FrameDecoder::new("control message", 100);
        decoder.push(&[0xff; 12]);
        assert_eq!(decoder.next_raw().unwrap_err().code, ErrorCode::Malformed);

        let mut decoder = FrameDecoder::new("control message", 100);
        decoder.push(&[3, 0xff, 0xff, 0xff]);
        let error = decoder.next_message::<MediaControl>().unwrap_err();
        assert_eq!(error.code, ErrorCode::Malformed);
    }

    #[test]
    fn a_stream_ending_inside_a_message_is_malformed() {
        let mut decoder = FrameDecoder::new("upload request", 100);
        decoder.push(&[5, 1, 2]);
        assert_eq!(decoder.next_raw().unwrap(), None);
        assert_eq!(decoder.finish().unwrap_err().code, ErrorCode::Malformed);
    }

    #[test]
    fn stream_kinds_round_trip_and_unknown_ones_are_refused() {
        for kind in [
            StreamKind::Control,
            StreamKind::PhotoUpload,
            StreamKind::VideoFrame,
        ] {
            assert_eq!(StreamKind::from_byte(kind.byte()).unwrap(), kind);
        }
        for byte in [0, 4, 255] {
            let error = StreamKind::from_byte(byte).unwrap_err();
            assert_eq!(error.code, ErrorCode::UnknownStreamKind);
        }
    }
}
