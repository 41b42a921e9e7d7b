//! quinn plumbing shared by the hub and the client: transport settings, framed reads and
//! writes on streams, and the task that sends one direction's video frames.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::future::{AbortHandle, abortable};
use futures::stream::FuturesUnordered;
use prost::Message;
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::Notify;

use crate::proto_core::{
    ErrorCode, FrameDecoder, ProtocolError, PushOutcome, RelayConfig, RelayQueue, RelayStats,
    StreamKind, VideoFrame, encode_framed_into,
};

/// Control messages go before everything else.
pub(crate) const CONTROL_PRIORITY: i32 = 100;
/// Live video goes before photos: latency matters more than throughput.
pub(crate) const VIDEO_PRIORITY: i32 = 10;
/// Photos use what is left.
pub(crate) const UPLOAD_PRIORITY: i32 = 0;
/// Unidirectional streams a peer may have open at once (one per video frame in flight).
const MAX_UNI_STREAMS: u32 = 256;
/// Bidirectional streams a peer may have open at once (control plus uploads).
const MAX_BIDI_STREAMS: u32 = 32;

/// How a connection paces what it sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CongestionControl {
    /// BBR (quinn's implementation, which quinn calls experimental): models bandwidth and
    /// round trip instead of reading every loss as congestion, so random loss on mobile
    /// networks does not starve the link. Measured here at 5% loss and 100 ms round trip:
    /// a 300 kB photo in about 0.5 s and live video flowing, where CUBIC took 4 to 8 s
    /// and stalled the video.
    #[default]
    Bbr,
    /// CUBIC, quinn's default: the conservative choice on shared, lossless paths.
    Cubic,
}

/// QUIC transport settings of both ends.
pub(crate) fn transport_config(
    idle_timeout: Duration,
    keep_alive: Option<Duration>,
    congestion: CongestionControl,
) -> quinn::TransportConfig {
    let mut config = quinn::TransportConfig::default();
    config
        .max_concurrent_uni_streams(VarInt::from_u32(MAX_UNI_STREAMS))
        .max_concurrent_bidi_streams(VarInt::from_u32(MAX_BIDI_STREAMS))
        .max_idle_timeout(quinn::IdleTimeout::try_from(idle_timeout).ok())
        .keep_alive_interval(keep_alive)
        // Streams of equal priority go first-in first-out, so a group's frames arrive in order.
        .send_fairness(false)
        .datagram_receive_buffer_size(Some(1024 * 1024))
        .datagram_send_buffer_size(256 * 1024);
    match congestion {
        CongestionControl::Bbr => {
            config.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default()))
        }
        CongestionControl::Cubic => config
            .congestion_controller_factory(Arc::new(quinn::congestion::CubicConfig::default())),
    };
    config
}

/// The QUIC application error code for `code`.
pub(crate) fn var_int(code: ErrorCode) -> VarInt {
    VarInt::from_u32(code as u32)
}

/// Closes `connection` with `error`'s code and message.
pub(crate) fn close_with(connection: &quinn::Connection, error: &ProtocolError) {
    let mut reason = error.message.as_bytes();
    // The reason travels in one packet.
    if reason.len() > 200 {
        let mut end = 200;
        while !error.message.is_char_boundary(end) {
            end -= 1;
        }
        reason = &reason[..end];
    }
    connection.close(var_int(error.code), reason);
}

/// How a stream or connection ended, as either side sees it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    /// The peer broke the protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The connection is gone.
    #[error(transparent)]
    Connection(#[from] quinn::ConnectionError),
    /// The stream was reset or stopped by the peer.
    #[error("stream ended by peer with code {0}")]
    StreamEnded(VarInt),
}

impl From<quinn::ReadError> for LinkError {
    fn from(error: quinn::ReadError) -> Self {
        match error {
            quinn::ReadError::Reset(code) => LinkError::StreamEnded(code),
            quinn::ReadError::ConnectionLost(e) => LinkError::Connection(e),
            other => {
                LinkError::Protocol(ProtocolError::new(ErrorCode::Internal, other.to_string()))
            }
        }
    }
}

impl From<quinn::WriteError> for LinkError {
    fn from(error: quinn::WriteError) -> Self {
        match error {
            quinn::WriteError::Stopped(code) => LinkError::StreamEnded(code),
            quinn::WriteError::ConnectionLost(e) => LinkError::Connection(e),
            other => {
                LinkError::Protocol(ProtocolError::new(ErrorCode::Internal, other.to_string()))
            }
        }
    }
}

impl From<quinn::ReadExactError> for LinkError {
    fn from(error: quinn::ReadExactError) -> Self {
        match error {
            quinn::ReadExactError::FinishedEarly(_) => LinkError::Protocol(
                ProtocolError::malformed("stream ended before its kind byte"),
            ),
            quinn::ReadExactError::ReadError(e) => e.into(),
        }
    }
}

/// Reads the kind byte that opens a stream.
pub(crate) async fn read_kind(recv: &mut RecvStream) -> Result<u8, LinkError> {
    let mut byte = [0u8; 1];
    recv.read_exact(&mut byte).await?;
    Ok(byte[0])
}

/// Reads length-delimited messages from a stream.
pub(crate) struct FramedReader {
    recv: RecvStream,
    decoder: FrameDecoder,
}

impl FramedReader {
    /// Reads messages named `what` of at most `max_len` bytes from `recv`.
    pub(crate) fn new(recv: RecvStream, what: &'static str, max_len: usize) -> Self {
        FramedReader {
            recv,
            decoder: FrameDecoder::new(what, max_len),
        }
    }

    /// The next message, `None` when the stream ended cleanly between messages.
    pub(crate) async fn next<M: Message + Default>(&mut self) -> Result<Option<M>, LinkError> {
        loop {
            if let Some(message) = self.decoder.next_message()? {
                return Ok(Some(message));
            }
            match self.recv.read_chunk(64 * 1024, true).await? {
                Some(chunk) => self.decoder.push(&chunk.bytes),
                None => {
                    self.decoder.finish()?;
                    return Ok(None);
                }
            }
        }
    }
}

/// Writes `kind` (if any) and then `messages`, each length-delimited, in one write.
pub(crate) async fn write_framed<M: Message>(
    send: &mut SendStream,
    kind: Option<StreamKind>,
    messages: &[&M],
) -> Result<(), LinkError> {
    let mut buf = BytesMut::new();
    if let Some(kind) = kind {
        buf.extend_from_slice(&[kind.byte()]);
    }
    for message in messages {
        encode_framed_into(*message, &mut buf);
    }
    send.write_chunk(buf.freeze()).await?;
    Ok(())
}

/// Reads the rest of a video frame stream (after its kind byte).
pub(crate) async fn read_frame(
    recv: &mut RecvStream,
    max_payload: u32,
) -> Result<VideoFrame, LinkError> {
    let limit = max_payload as usize + crate::proto_core::MAX_FRAME_HEADER_BYTES + 10;
    let wire = recv.read_to_end(limit).await.map_err(|e| match e {
        quinn::ReadToEndError::TooLong => LinkError::Protocol(ProtocolError::new(
            ErrorCode::TooLarge,
            format!("video frame exceeds {limit} bytes"),
        )),
        quinn::ReadToEndError::Read(e) => e.into(),
    })?;
    Ok(VideoFrame::decode(Bytes::from(wire), max_payload)?)
}

/// One direction's frames waiting for the transport, shared by whoever produces them
/// (the hub's relay or the client's camera) and the task sending them.
#[derive(Debug)]
pub(crate) struct FrameOutbox {
    state: Mutex<OutboxState>,
    wake: Notify,
}

#[derive(Debug)]
struct OutboxState {
    queue: RelayQueue,
    cancel: Vec<u64>,
}

impl FrameOutbox {
    pub(crate) fn new(config: RelayConfig) -> Arc<Self> {
        Arc::new(FrameOutbox {
            state: Mutex::new(OutboxState {
                queue: RelayQueue::new(config),
                cancel: Vec::new(),
            }),
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        // A panic while holding the lock leaves the queue usable: it holds no invariants
        // across calls that a half-done push could break.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Offers a frame; the sender task picks it up if it is queued.
    pub(crate) fn push(&self, frame: VideoFrame) -> PushOutcome {
        let outcome = {
            let mut state = self.lock();
            let outcome = state.queue.push(frame);
            state.cancel.extend_from_slice(&outcome.cancel);
            outcome
        };
        if outcome.queued || !outcome.cancel.is_empty() {
            self.wake.notify_one();
        }
        outcome
    }

    /// The queue's counters.
    pub(crate) fn stats(&self) -> RelayStats {
        self.lock().queue.stats()
    }
}

/// Sends `outbox`'s frames on `connection` until it closes: small ones as datagrams,
/// others on a unidirectional stream each. Keeps each stream until the receiver
/// acknowledged it, so the relay can reset it if a newer keyframe supersedes it.
pub(crate) async fn run_frame_sender(connection: quinn::Connection, outbox: Arc<FrameOutbox>) {
    let mut streams: HashMap<u64, (SendStream, AbortHandle)> = HashMap::new();
    let mut acknowledged = FuturesUnordered::new();
    loop {
        let (frames, cancel) = {
            let mut state = outbox.lock();
            let cancel = std::mem::take(&mut state.cancel);
            let frames: Vec<VideoFrame> = std::iter::from_fn(|| state.queue.pop()).collect();
            (frames, cancel)
        };
        for sequence in cancel {
            if let Some((mut stream, waiting)) = streams.remove(&sequence) {
                let _ = stream.reset(var_int(ErrorCode::FrameSuperseded));
                waiting.abort();
            }
        }
        for frame in frames {
            let sequence = frame.header().sequence;
            let fits = connection
                .max_datagram_size()
                .is_some_and(|max| frame.datagram_len() <= max);
            if fits {
                // quinn drops the oldest unsent datagrams if its buffer overflows: latest wins.
                let _ = connection.send_datagram(frame.to_datagram());
                outbox.lock().queue.finished(sequence);
                continue;
            }
            match send_frame_stream(&connection, &frame).await {
                Ok(stream) => {
                    let (stopped, waiting) = abortable(stream.stopped());
                    acknowledged.push(async move {
                        let _ = stopped.await;
                        sequence
                    });
                    streams.insert(sequence, (stream, waiting));
                }
                Err(LinkError::Connection(_)) => return,
                Err(_) => outbox.lock().queue.finished(sequence),
            }
        }
        tokio::select! {
            _ = outbox.wake.notified() => {}
            Some(sequence) = acknowledged.next() => {
                streams.remove(&sequence);
                outbox.lock().queue.finished(sequence);
            }
            _ = connection.closed() => return,
        }
    }
}

async fn send_frame_stream(
    connection: &quinn::Connection,
    frame: &VideoFrame,
) -> Result<SendStream, LinkError> {
    let mut stream = connection.open_uni().await?;
    let _ = stream.set_priority(VIDEO_PRIORITY);
    let mut chunks = [
        Bytes::copy_from_slice(&[StreamKind::VideoFrame.byte()]),
        frame.wire().clone(),
    ];
    stream.write_all_chunks(&mut chunks).await?;
    let _ = stream.finish();
    Ok(stream)
}
