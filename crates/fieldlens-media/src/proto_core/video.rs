//! Live video frames and the relay's drop policy: stale frames are dropped rather than
//! queued, a new keyframe supersedes every older group, and a group that lost a frame to
//! congestion is skipped until the next keyframe (its later frames would not decode).

use std::collections::{BTreeMap, VecDeque};

use bytes::{BufMut, Bytes, BytesMut};
use fieldlens_proto::v1::MediaFrameHeader;
use prost::Message;

use super::framing::parse_length_prefix;
use super::{MAX_FRAME_HEADER_BYTES, ProtocolError, StreamKind, encode_framed_into};

/// What the header of a video frame says, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Increases with every frame from one sender.
    pub sequence: u64,
    /// Sequence of the keyframe that starts this frame's group.
    pub group: u64,
    /// Capture time, microseconds since the Unix epoch by the sender's clock.
    pub timestamp_us: u64,
    /// Whether the frame decodes on its own.
    pub keyframe: bool,
}

impl FrameHeader {
    /// A keyframe, which starts its own group.
    pub fn keyframe(sequence: u64, timestamp_us: u64) -> Self {
        FrameHeader {
            sequence,
            group: sequence,
            timestamp_us,
            keyframe: true,
        }
    }

    /// A frame that depends on the keyframe `group`.
    pub fn delta(sequence: u64, group: u64, timestamp_us: u64) -> Self {
        FrameHeader {
            sequence,
            group,
            timestamp_us,
            keyframe: false,
        }
    }

    /// Checks a header from the wire: a keyframe is its own group, any other frame
    /// belongs to an earlier keyframe's group.
    pub fn from_wire(wire: &MediaFrameHeader) -> Result<Self, ProtocolError> {
        let consistent = if wire.keyframe {
            wire.group == wire.sequence
        } else {
            wire.group < wire.sequence
        };
        if !consistent {
            return Err(ProtocolError::malformed(format!(
                "frame {} (keyframe: {}) cannot belong to group {}",
                wire.sequence, wire.keyframe, wire.group
            )));
        }
        Ok(FrameHeader {
            sequence: wire.sequence,
            group: wire.group,
            timestamp_us: wire.timestamp_us,
            keyframe: wire.keyframe,
        })
    }

    /// The header as sent.
    pub fn to_wire(&self) -> MediaFrameHeader {
        MediaFrameHeader {
            sequence: self.sequence,
            group: self.group,
            timestamp_us: self.timestamp_us,
            keyframe: self.keyframe,
        }
    }
}

/// Numbers a sender's frames: consecutive sequences, each frame in the group of the
/// latest keyframe.
#[derive(Debug, Clone, Default)]
pub struct FrameCounter {
    last: u64,
    group: u64,
}

impl FrameCounter {
    /// Starts at sequence 1.
    pub fn new() -> Self {
        FrameCounter::default()
    }

    /// The header of the next frame. The first frame is always a keyframe.
    pub fn next(&mut self, keyframe: bool, timestamp_us: u64) -> FrameHeader {
        self.last += 1;
        if keyframe || self.group == 0 {
            self.group = self.last;
            FrameHeader::keyframe(self.last, timestamp_us)
        } else {
            FrameHeader::delta(self.last, self.group, timestamp_us)
        }
    }
}

/// One encoded video frame: its header and its opaque bytes, kept in their wire form so
/// the hub relays them without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    header: FrameHeader,
    /// The framed header followed by the payload (without the kind byte).
    wire: Bytes,
    payload_start: usize,
}

impl VideoFrame {
    /// A frame with `header` and `payload`.
    pub fn new(header: FrameHeader, payload: &[u8]) -> Self {
        let mut wire = BytesMut::with_capacity(payload.len() + 32);
        encode_framed_into(&header.to_wire(), &mut wire);
        let payload_start = wire.len();
        wire.put_slice(payload);
        VideoFrame {
            header,
            wire: wire.freeze(),
            payload_start,
        }
    }

    /// Parses a frame as it follows the kind byte on a stream or in a datagram. The
    /// payload must hold 1 to `max_payload` bytes.
    pub fn decode(wire: Bytes, max_payload: u32) -> Result<Self, ProtocolError> {
        let Some((prefix, len)) =
            parse_length_prefix(&wire, "frame header", MAX_FRAME_HEADER_BYTES)?
        else {
            return Err(ProtocolError::malformed(
                "video frame ends inside its header",
            ));
        };
        let payload_start = prefix + len;
        if wire.len() < payload_start {
            return Err(ProtocolError::malformed(
                "video frame ends inside its header",
            ));
        }
        let header = MediaFrameHeader::decode(&wire[prefix..payload_start]).map_err(|e| {
            ProtocolError::malformed(format!("frame header could not be decoded: {e}"))
        })?;
        let header = FrameHeader::from_wire(&header)?;
        let payload_len = wire.len() - payload_start;
        if payload_len == 0 {
            return Err(ProtocolError::malformed(format!(
                "video frame {} carries no bytes",
                header.sequence
            )));
        }
        if payload_len > max_payload as usize {
            return Err(ProtocolError::too_large(
                "video frame",
                payload_len,
                max_payload as usize,
            ));
        }
        Ok(VideoFrame {
            header,
            wire,
            payload_start,
        })
    }

    /// The frame's header.
    pub fn header(&self) -> &FrameHeader {
        &self.header
    }

    /// The frame's encoded picture.
    pub fn payload(&self) -> Bytes {
        self.wire.slice(self.payload_start..)
    }

    /// Header and payload as they follow the kind byte on the wire.
    pub fn wire(&self) -> &Bytes {
        &self.wire
    }

    /// The whole frame as one datagram, kind byte first.
    pub fn to_datagram(&self) -> Bytes {
        let mut datagram = BytesMut::with_capacity(1 + self.wire.len());
        datagram.put_u8(StreamKind::VideoFrame.byte());
        datagram.put_slice(&self.wire);
        datagram.freeze()
    }

    /// Length of the datagram this frame makes.
    pub fn datagram_len(&self) -> usize {
        1 + self.wire.len()
    }
}

/// Whether a frame can still be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Newer than anything before it and decodable.
    Accept,
    /// At or below a sequence already admitted (late, duplicated or reordered).
    Stale,
    /// Depends on a frame that was not admitted: its keyframe, or the frame just before
    /// it (lost, late, or dropped under congestion). Refused until the next keyframe.
    MissingReference,
}

/// Admits only frames newer than any before and decodable: a keyframe, or the frame
/// right after the last one admitted, in the same group. Senders number their frames
/// consecutively, so a gap means a frame went missing. Used by the hub for every
/// direction it relays and by clients for what they receive.
#[derive(Debug, Default, Clone)]
pub struct FrameFilter {
    last_sequence: Option<u64>,
    group: Option<u64>,
}

impl FrameFilter {
    /// Decides on `header`, remembering it if admitted.
    pub fn admit(&mut self, header: &FrameHeader) -> Admission {
        if self
            .last_sequence
            .is_some_and(|last| header.sequence <= last)
        {
            return Admission::Stale;
        }
        let follows = self.group == Some(header.group)
            && self.last_sequence == header.sequence.checked_sub(1);
        if header.keyframe {
            self.group = Some(header.group);
        } else if !follows {
            self.group = None;
            self.last_sequence = Some(header.sequence);
            return Admission::MissingReference;
        }
        self.last_sequence = Some(header.sequence);
        Admission::Accept
    }

    /// Skips the current group: its next frames are refused until a keyframe.
    pub fn break_group(&mut self) {
        self.group = None;
    }
}

/// Puts frames back in sending order. Frames travel on separate streams (or as
/// datagrams), so under loss a frame can arrive before the one it depends on; it waits
/// here (at most `max_waiting` frames) until the gap fills. A keyframe is released at
/// once and supersedes everything older; a gap that does not fill in time costs the
/// rest of its group.
#[derive(Debug)]
pub struct FrameReorder {
    max_waiting: usize,
    last: Option<u64>,
    group: Option<u64>,
    broken: bool,
    waiting: BTreeMap<u64, VideoFrame>,
    dropped: u64,
}

impl FrameReorder {
    /// A reorder buffer holding at most `max_waiting` early frames.
    pub fn new(max_waiting: usize) -> Self {
        FrameReorder {
            max_waiting,
            last: None,
            group: None,
            broken: false,
            waiting: BTreeMap::new(),
            dropped: 0,
        }
    }

    /// Frames dropped so far: stale, superseded, or of a group with a gap.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Takes in a frame as it arrived; returns the frames now ready, in order.
    pub fn push(&mut self, frame: VideoFrame) -> Vec<VideoFrame> {
        let header = *frame.header();
        let mut ready = Vec::new();
        if self.last.is_some_and(|last| header.sequence <= last) {
            self.dropped += 1;
            return ready;
        }
        if header.keyframe {
            let older = self.waiting.len();
            self.waiting
                .retain(|&sequence, _| sequence > header.sequence);
            self.dropped += (older - self.waiting.len()) as u64;
            self.group = Some(header.group);
            self.broken = false;
            self.release(frame, &mut ready);
        } else if self.group == Some(header.group) {
            if self.broken {
                self.dropped += 1;
            } else if self.last == header.sequence.checked_sub(1) {
                self.release(frame, &mut ready);
            } else {
                self.wait(frame);
            }
        } else if self.group.is_some_and(|group| header.group < group) {
            self.dropped += 1;
        } else {
            // Its keyframe has not arrived yet.
            self.wait(frame);
        }
        ready
    }

    fn release(&mut self, frame: VideoFrame, ready: &mut Vec<VideoFrame>) {
        self.last = Some(frame.header().sequence);
        ready.push(frame);
        while let Some(next) = self.last.and_then(|last| self.waiting.remove(&(last + 1))) {
            if next.header().keyframe || Some(next.header().group) == self.group {
                self.group = Some(next.header().group);
                self.last = Some(next.header().sequence);
                ready.push(next);
            } else {
                self.dropped += 1;
            }
        }
    }

    fn wait(&mut self, frame: VideoFrame) {
        self.waiting.insert(frame.header().sequence, frame);
        if self.waiting.len() > self.max_waiting {
            // The gap did not fill: give up on the current group.
            self.dropped += self.waiting.len() as u64;
            self.waiting.clear();
            self.broken = true;
        }
    }
}

/// Bounds of one relay direction. Together they bound the delay a frame can pick up in
/// the hub: at most `max_pending_frames` wait behind `max_in_flight` unacknowledged ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Frames waiting to be handed to the transport.
    pub max_pending_frames: usize,
    /// Bytes waiting to be handed to the transport.
    pub max_pending_bytes: usize,
    /// Frames handed to the transport and not yet acknowledged by the receiver.
    pub max_in_flight: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            max_pending_frames: 4,
            max_pending_bytes: 2 * 1024 * 1024,
            max_in_flight: 16,
        }
    }
}

/// Counters of one relay direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Frames admitted into the queue.
    pub admitted: u64,
    /// Frames handed to the transport.
    pub sent: u64,
    /// Frames dropped as stale.
    pub dropped_stale: u64,
    /// Frames dropped because a frame they depend on was missing.
    pub dropped_missing_reference: u64,
    /// Frames dropped because the queue was full.
    pub dropped_congestion: u64,
    /// Waiting frames discarded because a newer keyframe arrived.
    pub superseded_pending: u64,
    /// Frames in flight cancelled because a newer keyframe arrived while the transport
    /// was saturated.
    pub superseded_in_flight: u64,
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// Whether the frame was queued.
    pub queued: bool,
    /// Sequences of frames in flight to cancel (reset their streams): a newer keyframe
    /// superseded them while the transport was saturated.
    pub cancel: Vec<u64>,
}

/// One relay direction (a sender's frames towards one receiver): a small queue with the
/// drop policy, and a count of frames in flight.
#[derive(Debug)]
pub struct RelayQueue {
    config: RelayConfig,
    filter: FrameFilter,
    pending: VecDeque<VideoFrame>,
    pending_bytes: usize,
    /// Sequence → group of frames handed to the transport and not yet finished.
    in_flight: BTreeMap<u64, u64>,
    stats: RelayStats,
}

impl RelayQueue {
    /// An empty queue.
    pub fn new(config: RelayConfig) -> Self {
        RelayQueue {
            config,
            filter: FrameFilter::default(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            in_flight: BTreeMap::new(),
            stats: RelayStats::default(),
        }
    }

    /// Offers a frame from the sender.
    pub fn push(&mut self, frame: VideoFrame) -> PushOutcome {
        let header = *frame.header();
        let mut outcome = PushOutcome {
            queued: false,
            cancel: Vec::new(),
        };
        match self.filter.admit(&header) {
            Admission::Stale => self.stats.dropped_stale += 1,
            Admission::MissingReference => self.stats.dropped_missing_reference += 1,
            Admission::Accept if header.keyframe => {
                self.stats.superseded_pending += self.pending.len() as u64;
                self.pending.clear();
                self.pending_bytes = 0;
                if self.in_flight.len() >= self.config.max_in_flight {
                    outcome.cancel = self
                        .in_flight
                        .iter()
                        .filter(|&(_, &group)| group < header.group)
                        .map(|(&sequence, _)| sequence)
                        .collect();
                    for sequence in &outcome.cancel {
                        self.in_flight.remove(sequence);
                    }
                    self.stats.superseded_in_flight += outcome.cancel.len() as u64;
                }
                outcome.queued = true;
            }
            Admission::Accept => {
                let full = self.pending.len() >= self.config.max_pending_frames
                    || self.pending_bytes + frame.wire().len() > self.config.max_pending_bytes;
                if full {
                    self.filter.break_group();
                    self.stats.dropped_congestion += 1;
                } else {
                    outcome.queued = true;
                }
            }
        }
        if outcome.queued {
            self.stats.admitted += 1;
            self.pending_bytes += frame.wire().len();
            self.pending.push_back(frame);
        }
        outcome
    }

    /// The next frame to hand to the transport, if one waits and fewer than
    /// `max_in_flight` are unfinished. Call [`RelayQueue::finished`] once it is
    /// acknowledged, sent as a datagram, cancelled or failed.
    pub fn pop(&mut self) -> Option<VideoFrame> {
        if self.in_flight.len() >= self.config.max_in_flight {
            return None;
        }
        let frame = self.pending.pop_front()?;
        self.pending_bytes -= frame.wire().len();
        self.in_flight
            .insert(frame.header().sequence, frame.header().group);
        self.stats.sent += 1;
        Some(frame)
    }

    /// The frame `sequence` no longer occupies the transport.
    pub fn finished(&mut self, sequence: u64) {
        self.in_flight.remove(&sequence);
    }

    /// Frames waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Frames in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Counters so far.
    pub fn stats(&self) -> RelayStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;
    use crate::proto_core::ErrorCode;

    fn key(sequence: u64) -> VideoFrame {
        VideoFrame::new(FrameHeader::keyframe(sequence, sequence * 1000), &[1; 10])
    }

    fn delta(sequence: u64, group: u64) -> VideoFrame {
        VideoFrame::new(
            FrameHeader::delta(sequence, group, sequence * 1000),
            &[2; 10],
        )
    }

    fn queue(max_pending_frames: usize, max_in_flight: usize) -> RelayQueue {
        RelayQueue::new(RelayConfig {
            max_pending_frames,
            max_pending_bytes: 1 << 20,
            max_in_flight,
        })
    }

    fn drain(queue: &mut RelayQueue) -> Vec<u64> {
        std::iter::from_fn(|| queue.pop().map(|f| f.header().sequence)).collect()
    }

    #[test]
    fn frames_round_trip_through_their_wire_form() {
        let frame = VideoFrame::new(FrameHeader::delta(7, 3, 123_456), b"picture");
        let datagram = frame.to_datagram();
        assert_eq!(datagram[0], StreamKind::VideoFrame.byte());
        assert_eq!(datagram.len(), frame.datagram_len());
        let decoded = VideoFrame::decode(datagram.slice(1..), 100).unwrap();
        assert_eq!(decoded, frame);
        assert_eq!(&decoded.payload()[..], b"picture");
    }

    #[test]
    fn bad_frames_are_refused_with_a_reason() {
        let frame = VideoFrame::new(FrameHeader::keyframe(1, 0), &[0; 50]);
        let code = |wire: Bytes, max| VideoFrame::decode(wire, max).unwrap_err().code;
        assert_eq!(code(frame.wire().clone(), 49), ErrorCode::TooLarge);
        assert_eq!(code(frame.wire().slice(..3), 100), ErrorCode::Malformed);
        assert_eq!(
            code(Bytes::from_static(&[200, 1]), 100),
            ErrorCode::TooLarge
        );
        assert_eq!(
            code(Bytes::from_static(&[3, 0xff, 0xff, 0xff, 1]), 100),
            ErrorCode::Malformed
        );
        let empty = VideoFrame::new(FrameHeader::keyframe(1, 0), &[]);
        assert_eq!(code(empty.wire().clone(), 100), ErrorCode::Malformed);
        let keyframe_in_other_group = FrameHeader {
            group: 0,
            ..FrameHeader::keyframe(5, 0)
        };
        let wire = VideoFrame::new(keyframe_in_other_group, &[1])
            .wire()
            .clone();
        assert_eq!(code(wire, 100), ErrorCode::Malformed);
        let delta_ahead = VideoFrame::new(FrameHeader::delta(5, 6, 0), &[1])
            .wire()
            .clone();
        assert_eq!(code(delta_ahead, 100), ErrorCode::Malformed);
    }

    #[test]
    fn latest_keyframe_wins_over_waiting_ones() {
        let mut queue = queue(2, 1);
        for sequence in 1..=5 {
            assert!(queue.push(key(sequence)).queued);
        }
        assert_eq!(drain(&mut queue), vec![5]);
        assert_eq!(queue.stats().superseded_pending, 4);
    }

    #[test]
    fn stale_and_reordered_frames_are_dropped() {
        let mut queue = queue(4, 4);
        queue.push(key(5));
        assert!(!queue.push(key(3)).queued);
        assert!(!queue.push(key(5)).queued);
        assert!(!queue.push(delta(4, 3)).queued);
        assert_eq!(queue.stats().dropped_stale, 3);
    }

    #[test]
    fn congestion_skips_the_rest_of_the_group_until_the_next_keyframe() {
        let mut queue = queue(2, 4);
        assert!(queue.push(key(1)).queued);
        assert!(queue.push(delta(2, 1)).queued);
        assert!(!queue.push(delta(3, 1)).queued, "queue is full");
        assert!(!queue.push(delta(4, 1)).queued, "frame 4 needs frame 3");
        assert_eq!(queue.stats().dropped_congestion, 1);
        assert_eq!(queue.stats().dropped_missing_reference, 1);
        assert_eq!(drain(&mut queue), vec![1, 2]);
        assert!(queue.push(key(5)).queued);
        assert!(queue.push(delta(6, 5)).queued);
        assert_eq!(drain(&mut queue), vec![5, 6]);
    }

    #[test]
    fn a_keyframe_cancels_older_groups_in_flight_only_when_the_transport_is_saturated() {
        let mut queue = queue(2, 2);
        queue.push(key(1));
        assert_eq!(drain(&mut queue), vec![1]);
        let outcome = queue.push(key(2));
        assert!(outcome.cancel.is_empty(), "one slot was free");
        assert_eq!(drain(&mut queue), vec![2]);
        assert_eq!(queue.in_flight(), 2);
        queue.push(delta(3, 2));
        assert_eq!(queue.pop(), None, "both slots are taken");
        let outcome = queue.push(key(4));
        assert_eq!(outcome.cancel, vec![1, 2]);
        assert_eq!(queue.stats().superseded_in_flight, 2);
        assert_eq!(queue.stats().superseded_pending, 1);
        assert_eq!(drain(&mut queue), vec![4]);
        queue.finished(4);
        queue.finished(1); // a cancelled frame finishing later changes nothing
        assert_eq!(queue.in_flight(), 0);
    }

    fn sequences(frames: Vec<VideoFrame>) -> Vec<u64> {
        frames.iter().map(|f| f.header().sequence).collect()
    }

    #[test]
    fn reordered_frames_are_put_back_in_order() {
        let mut reorder = FrameReorder::new(4);
        assert_eq!(sequences(reorder.push(key(1))), vec![1]);
        assert_eq!(sequences(reorder.push(delta(3, 1))), Vec::<u64>::new());
        assert_eq!(sequences(reorder.push(delta(4, 1))), Vec::<u64>::new());
        assert_eq!(sequences(reorder.push(delta(2, 1))), vec![2, 3, 4]);
        assert_eq!(
            sequences(reorder.push(delta(2, 1))),
            Vec::<u64>::new(),
            "stale"
        );
        // Deltas that arrive before their keyframe wait for it.
        assert_eq!(sequences(reorder.push(delta(6, 5))), Vec::<u64>::new());
        assert_eq!(sequences(reorder.push(key(5))), vec![5, 6]);
        assert_eq!(reorder.dropped(), 1);
    }

    #[test]
    fn a_gap_that_does_not_fill_costs_the_rest_of_the_group_only() {
        let mut reorder = FrameReorder::new(2);
        reorder.push(key(1));
        reorder.push(delta(3, 1));
        reorder.push(delta(4, 1));
        assert_eq!(
            sequences(reorder.push(delta(5, 1))),
            Vec::<u64>::new(),
            "gave up on 2"
        );
        assert_eq!(
            sequences(reorder.push(delta(2, 1))),
            Vec::<u64>::new(),
            "too late"
        );
        assert_eq!(sequences(reorder.push(delta(6, 1))), Vec::<u64>::new());
        assert_eq!(sequences(reorder.push(key(7))), vec![7]);
        assert_eq!(sequences(reorder.push(delta(8, 7))), vec![8]);
        assert_eq!(reorder.dropped(), 5);
    }

    #[test]
    fn a_keyframe_supersedes_frames_still_waiting_for_an_older_gap() {
        let mut reorder = FrameReorder::new(8);
        reorder.push(key(1));
        reorder.push(delta(3, 1));
        reorder.push(delta(6, 5));
        assert_eq!(sequences(reorder.push(key(5))), vec![5, 6]);
        assert_eq!(sequences(reorder.push(delta(2, 1))), Vec::<u64>::new());
        assert_eq!(reorder.dropped(), 2);
    }

    /// A sender's frame stream: keyframe every `gop` frames, occasional reordering.
    fn frames(ops: &[(bool, bool, bool)], gop: u64) -> Vec<(VideoFrame, bool, bool)> {
        let mut out = Vec::new();
        let mut group = 1;
        for (i, &(swap, pop, finish)) in ops.iter().enumerate() {
            let sequence = i as u64 + 1;
            if (sequence - 1).is_multiple_of(gop) {
                group = sequence;
            }
            let frame = if group == sequence {
                key(sequence)
            } else {
                delta(sequence, group)
            };
            out.push((frame, pop, finish));
            if swap && out.len() >= 2 {
                let n = out.len();
                out.swap(n - 1, n - 2);
            }
        }
        out
    }

    proptest! {
        /// Whatever order frames arrive in, what comes out is in order and decodable;
        /// with no loss, and reordering the buffer can absorb, nothing is dropped.
        #[test]
        fn the_reorder_buffer_releases_in_order_and_decodable(
            gop in 1u64..6,
            count in 1u64..60,
            swaps in prop::collection::vec(0usize..60, 0..20),
            lost in prop::collection::vec(0u64..60, 0..4),
        ) {
            let mut arrivals: Vec<VideoFrame> = (1..=count)
                .filter(|s| !lost.contains(s))
                .map(|s| {
                    let group = s - (s - 1) % gop;
                    if group == s { key(s) } else { delta(s, group) }
                })
                .collect();
            for swap in &swaps {
                if *swap + 1 < arrivals.len() {
                    arrivals.swap(*swap, *swap + 1);
                }
            }
            // Whether every frame arrived before any later keyframe and was overtaken by
            // at most as many frames as the buffer holds.
            let order: Vec<(u64, bool)> =
                arrivals.iter().map(|f| (f.header().sequence, f.header().keyframe)).collect();
            let gentle = order.iter().enumerate().all(|(i, &(sequence, _))| {
                let overtaking = order[..i].iter().filter(|(s, _)| *s > sequence);
                overtaking.clone().count() <= 4 && !overtaking.clone().any(|(_, k)| *k)
            });
            let mut reorder = FrameReorder::new(4);
            let mut released: Vec<(u64, u64, bool)> = Vec::new();
            for frame in arrivals {
                for f in reorder.push(frame) {
                    let h = f.header();
                    released.push((h.sequence, h.group, h.keyframe));
                }
            }
            for pair in released.windows(2) {
                prop_assert!(pair[0].0 < pair[1].0);
                if !pair[1].2 {
                    prop_assert_eq!(pair[1].0, pair[0].0 + 1, "a delta follows its predecessor");
                    prop_assert_eq!(pair[1].1, pair[0].1);
                }
            }
            if let Some(first) = released.first() {
                prop_assert!(first.2, "the first frame released is a keyframe");
            }
            if gentle && lost.iter().all(|l| *l == 0 || *l > count) {
                prop_assert_eq!(released.len() as u64, count, "nothing lost, nothing dropped");
            }
        }

        /// Whatever arrives in whatever order, the queue stays within its bounds, hands
        /// out strictly increasing sequences, and hands out a frame other than a keyframe
        /// only after the frame it depends on (so everything sent can be decoded).
        #[test]
        fn the_relay_stays_bounded_and_decodable(
            ops in prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 1..200),
            gop in 1u64..8,
            max_pending in 1usize..4,
            max_in_flight in 1usize..4,
        ) {
            let mut queue = queue(max_pending, max_in_flight);
            let mut sent: Vec<(u64, u64, bool)> = Vec::new();
            let mut in_flight: Vec<u64> = Vec::new();
                    for (frame, pop, finish) in frames(&ops, gop) {
                let outcome = queue.push(frame);
                for sequence in outcome.cancel {
                    in_flight.retain(|s| *s != sequence);
                }
                prop_assert!(queue.pending() <= max_pending.max(1));
                if pop {
                    while let Some(frame) = queue.pop() {
                        let h = frame.header();
                        sent.push((h.sequence, h.group, h.keyframe));
                        in_flight.push(h.sequence);
                    }
                }
                prop_assert!(queue.in_flight() <= max_in_flight);
                if finish && !in_flight.is_empty() {
                    queue.finished(in_flight.remove(0));
                }
            }
            prop_assert!(in_flight.len() <= max_in_flight);
            for pair in sent.windows(2) {
                prop_assert!(pair[0].0 < pair[1].0, "sequences must increase: {sent:?}");
            }
            let sent_sequences: HashSet<(u64, u64)> = sent.iter().map(|s| (s.0, s.1)).collect();
            for &(sequence, group, keyframe) in &sent {
                if !keyframe {
                    prop_assert!(sent_sequences.contains(&(sequence - 1, group)),
                        "frame {sequence} was sent without frame {} of group {group}", sequence - 1);
                }
            }
        }
    }
}
