//! quinn plumbing shared by the hub and the client: transport settings, framed reads and
//! writes on streams, and the task that sends one direction's video frames.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// QUIC transport settings of both ends of the link (public so that a benchmark's bare
/// quinn baseline can use the very same ones).
pub fn transport_config(
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
        .datagram_send_buffer_size(256 * 1024)
        // quinn's ACK frequency extension with its defaults (the peer is told its ACK
        // thresholds; peers without the extension, like aioquic, are not). Without it, a
        // photo upload on a new connection stalled ≈ 27 ms before its first chunk in 11 of
        // 16 measured rounds, with it in 1 of 104: quinn's BBR enters ProbeRtt on its first
        // ACK, with a window of a few packets, and waits on each ACK (BENCHMARKS.md).
        .ack_frequency_config(Some(quinn::AckFrequencyConfig::default()));
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

    /// Asks the peer to stop sending, with `code` as the reason.
    pub(crate) fn stop(&mut self, code: VarInt) {
        let _ = self.recv.stop(code);
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

/// Writes the control messages queued for one peer until the queue closes or the stream
/// fails.
pub(crate) async fn write_control(
    mut send: SendStream,
    mut queue: tokio::sync::mpsc::Receiver<fieldlens_proto::v1::MediaControl>,
) {
    while let Some(message) = queue.recv().await {
        if write_framed(&mut send, None, &[&message]).await.is_err() {
            return;
        }
    }
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

/// How long frames waited between arriving and being handed to the transport, in
/// buckets of [`DwellHistogram::BUCKET`]; the last bucket holds everything longer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DwellHistogram {
    counts: Vec<u64>,
}

impl DwellHistogram {
    /// Width of one bucket.
    pub const BUCKET: Duration = Duration::from_micros(50);
    const BUCKETS: usize = 400;

    /// Frames counted per bucket.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Frames counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper edge of the bucket holding quantile `q` (0..=1), `None` without data or
    /// when it lies beyond the last bucket's 20 ms.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64 * q).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return (bucket + 1 < Self::BUCKETS).then(|| Self::BUCKET * (bucket as u32 + 1));
            }
        }
        None
    }
}

/// Records dwell times from many tasks at once.
#[derive(Debug)]
pub(crate) struct DwellRecorder {
    buckets: Box<[AtomicU64]>,
}

impl Default for DwellRecorder {
    fn default() -> Self {
        DwellRecorder {
            buckets: (0..DwellHistogram::BUCKETS)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

impl DwellRecorder {
    fn record(&self, dwell: Duration) {
        let bucket = (dwell.as_micros() / DwellHistogram::BUCKET.as_micros()) as usize;
        self.buckets[bucket.min(DwellHistogram::BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> DwellHistogram {
        DwellHistogram {
            counts: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
        }
    }
}

/// One direction's frames waiting for the transport, shared by whoever produces them
/// (the hub's relay or the client's camera) and the task sending them.
#[derive(Debug)]
pub(crate) struct FrameOutbox {
    state: Mutex<OutboxState>,
    wake: Notify,
    dwell: Option<Arc<DwellRecorder>>,
}

#[derive(Debug)]
struct OutboxState {
    queue: RelayQueue,
    cancel: Vec<u64>,
    /// When each queued frame arrived, by sequence.
    arrived: BTreeMap<u64, Instant>,
}

impl FrameOutbox {
    /// An empty outbox; if `dwell` is given, how long each frame waited is recorded there.
    pub(crate) fn new(config: RelayConfig, dwell: Option<Arc<DwellRecorder>>) -> Arc<Self> {
        Arc::new(FrameOutbox {
            state: Mutex::new(OutboxState {
                queue: RelayQueue::new(config),
                cancel: Vec::new(),
                arrived: BTreeMap::new(),
            }),
            wake: Notify::new(),
            dwell,
        })
    }

    /// The frame `sequence` was handed to the transport.
    fn handed_over(&self, sequence: u64) {
        let arrived = {
            let mut state = self.lock();
            let later = state.arrived.split_off(&(sequence + 1));
            let arrived = state.arrived.remove(&sequence);
            state.arrived = later;
            arrived
        };
        if let (Some(dwell), Some(arrived)) = (&self.dwell, arrived) {
            dwell.record(arrived.elapsed());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        // A panic while holding the lock leaves the queue usable: it holds no invariants
        // across calls that a half-done push could break.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Offers a frame that arrived at `arrived`; the sender task picks it up if it is
    /// queued.
    pub(crate) fn push(&self, frame: VideoFrame, arrived: Instant) -> PushOutcome {
        let sequence = frame.header().sequence;
        let outcome = {
            let mut state = self.lock();
            let outcome = state.queue.push(frame);
            state.cancel.extend_from_slice(&outcome.cancel);
            if outcome.queued {
                state.arrived.insert(sequence, arrived);
            }
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
                outbox.handed_over(sequence);
                outbox.lock().queue.finished(sequence);
                continue;
            }
            match send_frame_stream(&connection, &frame).await {
                Ok(stream) => {
                    outbox.handed_over(sequence);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwell_quantiles_are_bucket_upper_edges() {
        let recorder = DwellRecorder::default();
        assert_eq!(recorder.snapshot().quantile(0.5), None);
        for micros in [10, 20, 30, 120, 4_000] {
            recorder.record(Duration::from_micros(micros));
        }
        recorder.record(Duration::from_secs(1));
        let histogram = recorder.snapshot();
        assert_eq!(histogram.count(), 6);
        assert_eq!(histogram.quantile(0.5), Some(Duration::from_micros(50)));
        assert_eq!(histogram.quantile(0.6), Some(Duration::from_micros(150)));
        assert_eq!(histogram.quantile(0.8), Some(Duration::from_micros(4_050)));
        assert_eq!(histogram.quantile(1.0), None, "beyond the last bucket");
    }
}
