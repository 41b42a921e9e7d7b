//! Photo upload state on both ends: a declared size and SHA-256 up front, contiguous
//! chunks, resume from the hub's last durable offset, and hash verification.

use bytes::Bytes;
use fieldlens_proto::v1::media_upload_reply::Body as Reply;
use fieldlens_proto::v1::media_upload_request::Body as Request;
use fieldlens_proto::v1::{
    MediaUploadAck, MediaUploadComplete, MediaUploadReply, MediaUploadRequest, MediaUploadResume,
    MediaUploadStart,
};
use sha2::{Digest, Sha256};

use super::limits::{check_step_id, check_upload_id};
use super::{ErrorCode, Limits, ProtocolError};

/// SHA-256 of `data` as 64 lowercase hex characters.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn invalid(message: String) -> ProtocolError {
    ProtocolError::new(ErrorCode::UploadInvalid, message)
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A photo ready to upload: its bytes and their SHA-256, computed once (a capture app
/// can do it when the photo is taken) and reused by every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    bytes: Bytes,
    sha256: String,
}

impl Photo {
    /// A photo of `bytes`, hashing them.
    pub fn new(bytes: Bytes) -> Self {
        let sha256 = sha256_hex(&bytes);
        Photo { bytes, sha256 }
    }

    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Their SHA-256, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// The length-delimited encoding of a [`MediaUploadRequest`] carrying a chunk at
/// `offset` of `len` bytes, up to where the chunk's bytes begin; as prost would encode
/// it, so the bytes themselves can be written without copying them into a message.
fn chunk_prefix(offset: u64, len: usize) -> Bytes {
    use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
    // MediaUploadRequest.chunk = 2; MediaUploadChunk.offset = 1, .data = 2. proto3 leaves
    // a zero offset out.
    let offset_field = if offset == 0 {
        0
    } else {
        key_len(1) + encoded_len_varint(offset)
    };
    let chunk_len = offset_field + key_len(2) + encoded_len_varint(len as u64) + len;
    let request_len = key_len(2) + encoded_len_varint(chunk_len as u64) + chunk_len;
    let mut prefix = bytes::BytesMut::with_capacity(32);
    encode_varint(request_len as u64, &mut prefix);
    encode_key(2, WireType::LengthDelimited, &mut prefix);
    encode_varint(chunk_len as u64, &mut prefix);
    if offset != 0 {
        encode_key(1, WireType::Varint, &mut prefix);
        encode_varint(offset, &mut prefix);
    }
    encode_key(2, WireType::LengthDelimited, &mut prefix);
    encode_varint(len as u64, &mut prefix);
    prefix.freeze()
}

/// The hub's side of one upload stream.
#[derive(Debug)]
pub struct UploadReceiver {
    upload_id: String,
    size: u64,
    max_chunk_bytes: u32,
    next_offset: u64,
    durable_offset: u64,
    /// Bytes the sink held when the stream began; chunks of a `from_start` upload below
    /// this are read and dropped.
    held: u64,
}

impl UploadReceiver {
    /// Checks the first message of an upload stream, which must declare the upload.
    pub fn parse_start(
        request: MediaUploadRequest,
        limits: &Limits,
    ) -> Result<MediaUploadStart, ProtocolError> {
        let start = match request.body {
            Some(Request::Start(start)) => start,
            Some(Request::Chunk(_)) => {
                return Err(ProtocolError::new(
                    ErrorCode::UnexpectedMessage,
                    "an upload stream must start with its declaration, not a chunk",
                ));
            }
            None => return Err(ProtocolError::malformed("upload request has no body")),
        };
        check_upload_id(&start.upload_id)?;
        check_step_id(&start.step_id)?;
        if start.size == 0 {
            return Err(invalid(format!(
                "upload {} declares 0 bytes",
                start.upload_id
            )));
        }
        if start.size > limits.max_photo_bytes {
            return Err(ProtocolError::new(
                ErrorCode::TooLarge,
                format!(
                    "upload {} declares {} bytes, the limit is {}",
                    start.upload_id, start.size, limits.max_photo_bytes
                ),
            ));
        }
        if !is_sha256_hex(&start.sha256) {
            return Err(ProtocolError::malformed(format!(
                "upload {} sha256 must be 64 lowercase hex characters",
                start.upload_id
            )));
        }
        Ok(start)
    }

    /// The upload declared by `start`, of which the sink already holds `durable_offset`
    /// bytes.
    pub fn new(
        start: &MediaUploadStart,
        durable_offset: u64,
        limits: &Limits,
    ) -> Result<Self, ProtocolError> {
        if durable_offset > start.size {
            return Err(ProtocolError::new(
                ErrorCode::Internal,
                format!(
                    "storage reports {durable_offset} bytes of upload {}, declared {}",
                    start.upload_id, start.size
                ),
            ));
        }
        Ok(UploadReceiver {
            upload_id: start.upload_id.clone(),
            size: start.size,
            max_chunk_bytes: limits.max_chunk_bytes,
            next_offset: if start.from_start { 0 } else { durable_offset },
            durable_offset,
            held: durable_offset,
        })
    }

    /// The first reply: where the client continues.
    pub fn resume_reply(&self) -> MediaUploadReply {
        MediaUploadReply {
            body: Some(Reply::Resume(MediaUploadResume {
                durable_offset: self.durable_offset,
            })),
        }
    }

    /// Checks a chunk: it must continue exactly where the previous one ended and stay
    /// within the declared size. Returns the offset and bytes the sink does not hold yet,
    /// if any (a `from_start` upload may resend bytes the sink holds).
    pub fn on_request(
        &mut self,
        request: MediaUploadRequest,
    ) -> Result<Option<(u64, Bytes)>, ProtocolError> {
        let chunk = match request.body {
            Some(Request::Chunk(chunk)) => chunk,
            Some(Request::Start(_)) => {
                return Err(ProtocolError::new(
                    ErrorCode::UnexpectedMessage,
                    format!("upload {} was declared twice on one stream", self.upload_id),
                ));
            }
            None => return Err(ProtocolError::malformed("upload request has no body")),
        };
        let len = chunk.data.len() as u64;
        if chunk.offset != self.next_offset {
            return Err(invalid(format!(
                "upload {} chunk starts at {}, expected {}",
                self.upload_id, chunk.offset, self.next_offset
            )));
        }
        if len == 0 || len > u64::from(self.max_chunk_bytes) {
            return Err(invalid(format!(
                "upload {} chunk holds {len} bytes, allowed 1 to {}",
                self.upload_id, self.max_chunk_bytes
            )));
        }
        if chunk.offset + len > self.size {
            return Err(invalid(format!(
                "upload {} chunk ends at {}, beyond the declared {} bytes",
                self.upload_id,
                chunk.offset + len,
                self.size
            )));
        }
        self.next_offset += len;
        if self.next_offset <= self.held {
            return Ok(None);
        }
        let skip = self.held.saturating_sub(chunk.offset);
        Ok(Some((
            chunk.offset + skip,
            chunk.data.slice(skip as usize..),
        )))
    }

    /// The sink reports `durable_offset` bytes durable; returns the ack to send if that is
    /// progress.
    pub fn on_durable(
        &mut self,
        durable_offset: u64,
    ) -> Result<Option<MediaUploadReply>, ProtocolError> {
        if durable_offset > self.next_offset.max(self.held) || durable_offset < self.durable_offset
        {
            return Err(ProtocolError::new(
                ErrorCode::Internal,
                format!(
                    "storage reports {durable_offset} durable bytes of upload {} after {} (received {})",
                    self.upload_id, self.durable_offset, self.next_offset
                ),
            ));
        }
        if durable_offset == self.durable_offset {
            return Ok(None);
        }
        self.durable_offset = durable_offset;
        Ok(Some(MediaUploadReply {
            body: Some(Reply::Ack(MediaUploadAck { durable_offset })),
        }))
    }

    /// Bytes the sink reported durable so far.
    pub fn durable_offset(&self) -> u64 {
        self.durable_offset
    }

    /// Whether every declared byte has arrived.
    pub fn is_fully_received(&self) -> bool {
        self.next_offset == self.size
    }

    /// The last reply, once the sink verified and stored everything.
    pub fn complete_reply(&self, sha256: &str) -> MediaUploadReply {
        MediaUploadReply {
            body: Some(Reply::Complete(MediaUploadComplete {
                size: self.size,
                sha256: sha256.to_owned(),
            })),
        }
    }
}

/// What a reply from the hub meant to the uploading client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadProgress {
    /// Continue from this offset (bytes before it are stored already).
    Resume(u64),
    /// This many bytes are stored durably.
    Durable(u64),
    /// Everything is stored and verified; the verdict follows on the control stream.
    Complete,
}

/// The client's side of one upload stream.
#[derive(Debug)]
pub struct UploadSender {
    start: MediaUploadStart,
    data: Bytes,
    chunk_bytes: usize,
    next_offset: u64,
    resumed_from: Option<u64>,
    durable_offset: u64,
    complete: bool,
}

/// Whether an upload is a photo's first attempt or a retry of an attempt that broke off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// No earlier attempt: send from byte 0 at once, without waiting for the resume
    /// reply (the hub drops bytes it holds, should the id have been used before).
    First,
    /// An earlier attempt broke off: wait for the resume reply and send only the bytes
    /// the hub does not hold.
    Retry,
}

impl UploadSender {
    /// An `attempt` at uploading `photo` for `step_id` under `upload_id`, in chunks the
    /// hub's `limits` allow.
    pub fn new(
        upload_id: &str,
        step_id: &str,
        photo: &Photo,
        attempt: Attempt,
        limits: &Limits,
    ) -> Result<Self, ProtocolError> {
        check_upload_id(upload_id)?;
        check_step_id(step_id)?;
        let size = photo.bytes.len() as u64;
        if size == 0 || size > limits.max_photo_bytes {
            return Err(ProtocolError::new(
                ErrorCode::TooLarge,
                format!(
                    "a photo must hold 1 to {} bytes, this one holds {size}",
                    limits.max_photo_bytes
                ),
            ));
        }
        Ok(UploadSender {
            start: MediaUploadStart {
                upload_id: upload_id.to_owned(),
                step_id: step_id.to_owned(),
                size,
                sha256: photo.sha256.clone(),
                from_start: attempt == Attempt::First,
            },
            data: photo.bytes.clone(),
            chunk_bytes: limits
                .max_chunk_bytes
                .clamp(1, super::MAX_UPLOAD_CHUNK_BYTES) as usize,
            next_offset: 0,
            resumed_from: None,
            durable_offset: 0,
            complete: false,
        })
    }

    /// Uses chunks of at most `bytes` (at least 1, at most what the hub allows).
    pub fn with_chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.clamp(1, self.chunk_bytes);
        self
    }

    /// The declaration that opens the stream.
    pub fn start_request(&self) -> MediaUploadRequest {
        MediaUploadRequest {
            body: Some(Request::Start(self.start.clone())),
        }
    }

    /// The photo's SHA-256, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.start.sha256
    }

    /// Where the hub told us to start; `None` before its resume reply.
    pub fn resumed_from(&self) -> Option<u64> {
        self.resumed_from
    }

    /// Bytes the hub reported durable.
    pub fn durable_offset(&self) -> u64 {
        self.durable_offset
    }

    /// Whether chunks go out before the resume reply (a first attempt).
    pub fn sends_from_start(&self) -> bool {
        self.start.from_start
    }

    /// Photo bytes handed out in chunks so far.
    pub fn bytes_sent(&self) -> u64 {
        self.next_offset - self.first_offset()
    }

    fn first_offset(&self) -> u64 {
        if self.start.from_start {
            0
        } else {
            self.resumed_from.unwrap_or(0)
        }
    }

    /// The next chunk to send, framed as on the wire: the encoded prefix of its
    /// [`MediaUploadRequest`] and the photo bytes it carries (not copied). `None` before
    /// the resume reply of a retry, or once all chunks are out.
    pub fn next_chunk(&mut self) -> Option<[Bytes; 2]> {
        if !self.start.from_start {
            self.resumed_from?;
        }
        let start = usize::try_from(self.next_offset).ok()?;
        if start >= self.data.len() {
            return None;
        }
        let end = (start + self.chunk_bytes).min(self.data.len());
        self.next_offset = end as u64;
        Some([
            chunk_prefix(start as u64, end - start),
            self.data.slice(start..end),
        ])
    }

    /// Takes in a reply from the hub.
    pub fn on_reply(&mut self, reply: MediaUploadReply) -> Result<UploadProgress, ProtocolError> {
        let size = self.start.size;
        let unexpected = |what: String| ProtocolError::new(ErrorCode::UnexpectedMessage, what);
        match (reply.body, self.resumed_from) {
            (Some(Reply::Resume(resume)), None) => {
                if resume.durable_offset > size {
                    return Err(ProtocolError::malformed(format!(
                        "the hub resumes at {} of a {size}-byte upload",
                        resume.durable_offset
                    )));
                }
                self.resumed_from = Some(resume.durable_offset);
                if !self.start.from_start {
                    self.next_offset = resume.durable_offset;
                }
                self.durable_offset = resume.durable_offset;
                Ok(UploadProgress::Resume(resume.durable_offset))
            }
            (Some(Reply::Ack(ack)), Some(_)) => {
                let reached = self.next_offset.max(self.resumed_from.unwrap_or(0));
                if ack.durable_offset < self.durable_offset || ack.durable_offset > reached {
                    return Err(ProtocolError::malformed(format!(
                        "the hub acknowledged {} bytes after {} with {} sent",
                        ack.durable_offset, self.durable_offset, self.next_offset
                    )));
                }
                self.durable_offset = ack.durable_offset;
                Ok(UploadProgress::Durable(ack.durable_offset))
            }
            (Some(Reply::Complete(done)), Some(_)) if !self.complete => {
                if done.size != size || done.sha256 != self.start.sha256 {
                    return Err(ProtocolError::new(
                        ErrorCode::HashMismatch,
                        format!(
                            "the hub completed {} bytes with sha256 {}, sent {size} with {}",
                            done.size, done.sha256, self.start.sha256
                        ),
                    ));
                }
                self.complete = true;
                self.durable_offset = size;
                Ok(UploadProgress::Complete)
            }
            (None, _) => Err(ProtocolError::malformed("upload reply has no body")),
            (Some(other), _) => Err(unexpected(format!("unexpected upload reply {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use fieldlens_proto::v1::MediaUploadChunk;

    use super::*;

    fn limits() -> Limits {
        Limits {
            max_photo_bytes: 1000,
            max_chunk_bytes: 64,
            max_frame_bytes: 1000,
        }
    }

    fn photo(len: usize) -> Photo {
        Photo::new(
            (0..len)
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<_>>()
                .into(),
        )
    }

    /// Decodes a chunk as the hub would read it off the stream.
    fn decode(chunk: [Bytes; 2]) -> MediaUploadRequest {
        let mut decoder = super::super::FrameDecoder::new("upload request", usize::MAX);
        decoder.push(&chunk[0]);
        decoder.push(&chunk[1]);
        let request = decoder.next_message().unwrap().unwrap();
        decoder.finish().unwrap();
        request
    }

    #[test]
    fn chunks_are_framed_exactly_as_prost_frames_them() {
        for offset in [0, 1, 127, 128, 300, 1 << 40] {
            for len in [1, 127, 128, 16_384, 262_144] {
                let data = Bytes::from(vec![0xa5; len]);
                let expected = super::super::encode_framed(&MediaUploadRequest {
                    body: Some(Request::Chunk(MediaUploadChunk {
                        offset,
                        data: data.clone(),
                    })),
                });
                let mut actual = chunk_prefix(offset, len).to_vec();
                actual.extend_from_slice(&data);
                assert_eq!(actual, expected.to_vec(), "offset {offset}, {len} bytes");
            }
        }
    }

    /// Runs sender and receiver against each other; the receiver's store starts with
    /// `stored` bytes and fails (drops the link) after `cut_after` chunks. Returns where
    /// the hub resumed, the bytes sent and whether the upload completed.
    fn transfer(
        data: &Photo,
        stored: &mut Vec<u8>,
        cut_after: Option<usize>,
        attempt: Attempt,
    ) -> (Option<u64>, u64, bool) {
        let limits = limits();
        let mut sender = UploadSender::new("u-1", "front", data, attempt, &limits).unwrap();
        let start = UploadReceiver::parse_start(sender.start_request(), &limits).unwrap();
        // A first attempt's opening chunk leaves before the hub has answered.
        let mut early = sender.next_chunk();
        assert_eq!(early.is_some(), attempt == Attempt::First);
        let mut receiver = UploadReceiver::new(&start, stored.len() as u64, &limits).unwrap();
        sender.on_reply(receiver.resume_reply()).unwrap();
        let mut chunks = 0;
        while let Some(chunk) = early.take().or_else(|| sender.next_chunk()) {
            if cut_after == Some(chunks) {
                return (sender.resumed_from(), sender.bytes_sent(), false);
            }
            if let Some((offset, bytes)) = receiver.on_request(decode(chunk)).unwrap() {
                assert_eq!(
                    offset,
                    stored.len() as u64,
                    "the sink gets contiguous bytes"
                );
                stored.extend_from_slice(&bytes);
            }
            if let Some(ack) = receiver.on_durable(stored.len() as u64).unwrap() {
                sender.on_reply(ack).unwrap();
            }
            chunks += 1;
        }
        assert!(receiver.is_fully_received());
        assert_eq!(sha256_hex(stored), start.sha256);
        let progress = sender
            .on_reply(receiver.complete_reply(&start.sha256))
            .unwrap();
        (
            sender.resumed_from(),
            sender.bytes_sent(),
            progress == UploadProgress::Complete,
        )
    }

    #[test]
    fn an_upload_cut_half_way_resumes_without_resending_stored_bytes() {
        let data = photo(600);
        let mut stored = Vec::new();
        let first = transfer(&data, &mut stored, Some(4), Attempt::First);
        assert_eq!((first.0, first.2), (Some(0), false));
        assert_eq!(stored.len(), 4 * 64);
        let retry = transfer(&data, &mut stored, None, Attempt::Retry);
        assert_eq!(retry, (Some(256), 600 - 256, true));
        assert_eq!(&Bytes::from(stored), data.bytes());
    }

    #[test]
    fn a_complete_upload_resumes_at_its_end_and_completes_at_once() {
        let data = photo(100);
        let mut stored = data.bytes().to_vec();
        assert_eq!(
            transfer(&data, &mut stored, None, Attempt::Retry),
            (Some(100), 0, true)
        );
    }

    #[test]
    fn a_first_attempt_on_a_used_id_resends_but_the_sink_gets_each_byte_once() {
        let data = photo(600);
        for held in [0, 100, 128, 600] {
            let mut stored = data.bytes()[..held].to_vec();
            let result = transfer(&data, &mut stored, None, Attempt::First);
            assert_eq!(result, (Some(held as u64), 600, true), "{held} held");
            assert_eq!(&Bytes::from(stored), data.bytes(), "{held} held");
        }
    }

    #[test]
    fn declarations_are_checked() {
        let limits = limits();
        let start = |id: &str, size: u64, sha: &str| MediaUploadRequest {
            body: Some(Request::Start(MediaUploadStart {
                upload_id: id.into(),
                step_id: String::new(),
                size,
                sha256: sha.into(),
                from_start: false,
            })),
        };
        let sha = sha256_hex(b"x");
        let code =
            |r: MediaUploadRequest| UploadReceiver::parse_start(r, &limits).unwrap_err().code;
        assert_eq!(code(start("u/1", 10, &sha)), ErrorCode::Malformed);
        assert_eq!(code(start("", 10, &sha)), ErrorCode::Malformed);
        assert_eq!(code(start("u", 0, &sha)), ErrorCode::UploadInvalid);
        assert_eq!(code(start("u", 1001, &sha)), ErrorCode::TooLarge);
        assert_eq!(
            code(start("u", 10, &sha.to_uppercase())),
            ErrorCode::Malformed
        );
        assert_eq!(code(start("u", 10, "abc")), ErrorCode::Malformed);
        let chunk_first = MediaUploadRequest {
            body: Some(Request::Chunk(MediaUploadChunk::default())),
        };
        assert_eq!(code(chunk_first), ErrorCode::UnexpectedMessage);
    }

    #[test]
    fn chunks_must_be_contiguous_and_within_the_declared_size() {
        let limits = limits();
        let data = photo(100);
        let sender = UploadSender::new("u-1", "", &data, Attempt::Retry, &limits).unwrap();
        let start = UploadReceiver::parse_start(sender.start_request(), &limits).unwrap();
        let chunk = |offset: u64, len: usize| MediaUploadRequest {
            body: Some(Request::Chunk(MediaUploadChunk {
                offset,
                data: vec![0; len].into(),
            })),
        };
        let mut receiver = UploadReceiver::new(&start, 10, &limits).unwrap();
        let code = |r: &mut UploadReceiver, req| r.on_request(req).unwrap_err().code;
        assert_eq!(code(&mut receiver, chunk(0, 10)), ErrorCode::UploadInvalid);
        assert_eq!(code(&mut receiver, chunk(10, 0)), ErrorCode::UploadInvalid);
        assert_eq!(code(&mut receiver, chunk(10, 65)), ErrorCode::UploadInvalid);
        receiver.on_request(chunk(10, 64)).unwrap();
        assert_eq!(code(&mut receiver, chunk(74, 27)), ErrorCode::UploadInvalid);
        receiver.on_request(chunk(74, 26)).unwrap();
        assert!(receiver.is_fully_received());
        assert_eq!(code(&mut receiver, chunk(100, 1)), ErrorCode::UploadInvalid);
        assert!(UploadReceiver::new(&start, 101, &limits).is_err());

        // From the start: offsets count from 0 whatever the sink holds.
        let from_start = MediaUploadStart {
            from_start: true,
            ..start
        };
        let mut receiver = UploadReceiver::new(&from_start, 10, &limits).unwrap();
        assert_eq!(code(&mut receiver, chunk(10, 64)), ErrorCode::UploadInvalid);
        assert_eq!(receiver.on_request(chunk(0, 5)).unwrap(), None);
        let (offset, bytes) = receiver.on_request(chunk(5, 64)).unwrap().unwrap();
        assert_eq!((offset, bytes.len()), (10, 59));
    }

    #[test]
    fn a_sink_claiming_bytes_it_never_got_is_an_internal_error() {
        let limits = limits();
        let sender = UploadSender::new("u-1", "", &photo(100), Attempt::First, &limits).unwrap();
        let start = UploadReceiver::parse_start(sender.start_request(), &limits).unwrap();
        let mut receiver = UploadReceiver::new(&start, 0, &limits).unwrap();
        assert_eq!(receiver.on_durable(0).unwrap(), None);
        assert_eq!(
            receiver.on_durable(5).unwrap_err().code,
            ErrorCode::Internal
        );
    }

    #[test]
    fn the_sender_refuses_a_completion_with_another_hash() {
        let limits = limits();
        let mut sender = UploadSender::new("u-1", "", &photo(10), Attempt::Retry, &limits).unwrap();
        let start = UploadReceiver::parse_start(sender.start_request(), &limits).unwrap();
        let receiver = UploadReceiver::new(&start, 10, &limits).unwrap();
        sender.on_reply(receiver.resume_reply()).unwrap();
        let wrong = receiver.complete_reply(&sha256_hex(b"other"));
        assert_eq!(
            sender.on_reply(wrong).unwrap_err().code,
            ErrorCode::HashMismatch
        );
        let empty = Photo::new(Bytes::new());
        assert!(UploadSender::new("u-1", "", &empty, Attempt::First, &limits).is_err());
    }
}
