//! Case events and the hash chain that makes each case's log tamper-evident.
//!
//! Every change to a case is an event appended to that case's log. Each record
//! carries the SHA-256 of the previous record, and its own hash is taken over the
//! record's JSON without `hash` (which includes that previous hash) — so changing,
//! removing, inserting or reordering any record breaks the chain from that point on,
//! and [`verify_chain`] says where.
//!
//! That JSON is what `serde_json` writes for the record, serialized once: struct
//! fields in declaration order, object values inside events (a quality report, a
//! decision's detail) with their keys sorted (serde_json's map is ordered by key), no
//! whitespace, floats written shortest-exact and read back exactly (`float_roundtrip`).
//! A record read back from any JSON spelling of it — keys in another order, other
//! whitespace — therefore hashes to the same bytes, without a canonicalisation pass.

use crate::intake::NewCase;
use crate::token::Role;
use crate::{CaseId, SessionId, TechnicianId, UnixMs};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of a log's first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Actor {
    /// The caller of one case (holder of its caller token).
    Caller {
        /// The case whose token was used.
        case: CaseId,
    },
    /// A technician, by id.
    Technician {
        /// The technician's id.
        id: TechnicianId,
    },
    /// A dispatcher, by id.
    Dispatcher {
        /// The dispatcher's id.
        id: String,
    },
    /// The hub itself (routing, timers).
    System,
}

impl From<Actor> for String {
    fn from(actor: Actor) -> String {
        match actor {
            Actor::Caller { case } => format!("caller:{case}"),
            Actor::Technician { id } => format!("technician:{id}"),
            Actor::Dispatcher { id } => format!("dispatcher:{id}"),
            Actor::System => "system".to_owned(),
        }
    }
}

impl TryFrom<String> for Actor {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == "system" {
            return Ok(Actor::System);
        }
        match value.split_once(':') {
            Some(("caller", case)) => Ok(Actor::Caller { case: case.into() }),
            Some(("technician", id)) => Ok(Actor::Technician { id: id.into() }),
            Some(("dispatcher", id)) => Ok(Actor::Dispatcher { id: id.into() }),
            _ => Err(format!("not an actor: {value:?}")),
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from(self.clone()))
    }
}

/// Something that happened to a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseEvent {
    /// The case was opened with this request.
    Opened(NewCase),
    /// The case entered the queue with this global arrival number.
    Queued {
        /// First-come-first-served order across restarts.
        arrival: u64,
    },
    /// Routing reserved the case for a technician until `expires_at`.
    Offered {
        /// The technician offered the case.
        technician: TechnicianId,
        /// When the reservation lapses.
        expires_at: UnixMs,
        /// Routing tier that made the technician eligible (0 = strictest).
        tier: u32,
    },
    /// The technician declined; the case went back to its place.
    OfferDeclined {
        /// Who declined.
        technician: TechnicianId,
        /// Their reason.
        reason: String,
    },
    /// The offer lapsed unanswered; the case went back to its place.
    OfferExpired {
        /// Who missed it.
        technician: TechnicianId,
    },
    /// The technician accepted; a media session was created.
    Paired {
        /// Who accepted.
        technician: TechnicianId,
        /// The session created.
        session: SessionId,
    },
    /// The caller asked to be called back; the place in the queue is kept.
    CallbackRequested {
        /// Number to call.
        phone: String,
    },
    /// The technician ended the live session.
    SessionEnded {
        /// Who ended it.
        technician: TechnicianId,
        /// Accept to end, milliseconds.
        handle_ms: i64,
    },
    /// Guided capture started with this guide pack.
    CaptureStarted {
        /// Guide pack id.
        pack: String,
        /// The pack's version, so a replay uses the same steps.
        version: String,
    },
    /// A photo for a capture step was stored and checked.
    PhotoChecked {
        /// The guide step.
        step: String,
        /// SHA-256 (hex) of the stored photo (its blob key).
        sha256: String,
        /// Whether the photo was accepted.
        accepted: bool,
        /// Reason codes when it must be retaken.
        reasons: Vec<String>,
        /// The full quality report.
        report: serde_json::Value,
    },
    /// A capture step was skipped.
    StepSkipped {
        /// The guide step.
        step: String,
        /// Why.
        reason: String,
    },
    /// A technician pushed a capture step to the caller.
    StepPushed {
        /// The guide step.
        step: String,
    },
    /// A participant connected to the session's media link (the actor says who).
    ParticipantJoined {
        /// Caller or technician.
        role: Role,
    },
    /// A participant's media connection ended.
    ParticipantLeft {
        /// Caller or technician.
        role: Role,
        /// Why, e.g. `bye: done`, `connection lost: timed out`, `SUPERSEDED`.
        reason: String,
    },
    /// Findings were recorded and a decision proposed.
    Triaged {
        /// The proposed decision, e.g. `truck_roll`.
        decision: String,
        /// Decision details (reasons, trace, parts), as produced by triage.
        detail: serde_json::Value,
    },
    /// A dispatcher claimed the case for review.
    ReviewClaimed {
        /// Who claimed it.
        dispatcher: String,
    },
    /// The review moved from one dispatcher to another.
    ReviewReassigned {
        /// Who held the review.
        from: String,
        /// Who holds it now.
        to: String,
        /// Why.
        reason: String,
    },
    /// The dispatcher approved the proposed decision.
    DecisionApproved {
        /// Who approved.
        dispatcher: String,
        /// Optional remark.
        comment: String,
    },
    /// The dispatcher replaced the proposed decision.
    DecisionOverridden {
        /// Who overrode.
        dispatcher: String,
        /// The decision before.
        from: String,
        /// The decision after.
        to: String,
        /// Why.
        reason: String,
    },
    /// The case was cancelled.
    Cancelled {
        /// Why.
        reason: String,
    },
    /// The caller left the queue without asking for a callback.
    Abandoned {
        /// How long they had waited.
        waited_ms: i64,
    },
}

impl CaseEvent {
    /// The event's kind as it appears in the log, e.g. `offer_declined`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            CaseEvent::Opened(_) => "opened",
            CaseEvent::Queued { .. } => "queued",
            CaseEvent::Offered { .. } => "offered",
            CaseEvent::OfferDeclined { .. } => "offer_declined",
            CaseEvent::OfferExpired { .. } => "offer_expired",
            CaseEvent::Paired { .. } => "paired",
            CaseEvent::CallbackRequested { .. } => "callback_requested",
            CaseEvent::SessionEnded { .. } => "session_ended",
            CaseEvent::CaptureStarted { .. } => "capture_started",
            CaseEvent::PhotoChecked { .. } => "photo_checked",
            CaseEvent::StepSkipped { .. } => "step_skipped",
            CaseEvent::StepPushed { .. } => "step_pushed",
            CaseEvent::ParticipantJoined { .. } => "participant_joined",
            CaseEvent::ParticipantLeft { .. } => "participant_left",
            CaseEvent::Triaged { .. } => "triaged",
            CaseEvent::ReviewClaimed { .. } => "review_claimed",
            CaseEvent::ReviewReassigned { .. } => "review_reassigned",
            CaseEvent::DecisionApproved { .. } => "decision_approved",
            CaseEvent::DecisionOverridden { .. } => "decision_overridden",
            CaseEvent::Cancelled { .. } => "cancelled",
            CaseEvent::Abandoned { .. } => "abandoned",
        }
    }

    /// The event's fields other than `kind`, as a JSON object.
    pub fn detail(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("kind");
        }
        value
    }
}

/// One record of a case's log, as stored and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The case the log belongs to.
    pub case_id: CaseId,
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// When it happened.
    pub at: UnixMs,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    pub event: CaseEvent,
    /// Hash of the previous record ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Hash of this record's JSON without `hash` (which includes `prev_hash`).
    pub hash: String,
}

impl EventRecord {
    /// Builds the record that follows `prev_hash` at position `seq`, hashed.
    pub fn chained(
        case_id: CaseId,
        seq: u64,
        at: UnixMs,
        actor: Actor,
        event: CaseEvent,
        prev_hash: String,
    ) -> Self {
        let mut record = EventRecord {
            case_id,
            seq,
            at,
            actor,
            event,
            prev_hash,
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        record
    }

    /// SHA-256 (hex) over the record's JSON without `hash` (see the module docs).
    pub fn compute_hash(&self) -> String {
        let hashed = Hashed {
            case_id: &self.case_id,
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            event: &self.event,
            prev_hash: &self.prev_hash,
        };
        // Serializing these types cannot fail: every map in them has string keys.
        let json = serde_json::to_vec(&hashed).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }
}

/// What a record's hash covers: every field of [`EventRecord`] but `hash`, in the same
/// order and with the same names, so its JSON is the record's own without `hash`.
#[derive(Serialize)]
struct Hashed<'a> {
    case_id: &'a CaseId,
    seq: u64,
    at: UnixMs,
    actor: &'a Actor,
    event: &'a CaseEvent,
    prev_hash: &'a str,
}

/// JSON with object keys sorted and no whitespace, so equal values hash equally
/// whatever order a serializer or a file used.
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn write(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Where a log stops being a valid chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A record's position is not the one expected (missing, added or reordered record).
    #[error("record {index}: expected seq {expected}, found {found}")]
    Sequence {
        /// 0-based index in the list checked.
        index: usize,
        /// The seq that should be there.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// A record does not point at its predecessor's hash.
    #[error("record seq {seq}: prev_hash does not match the previous record's hash")]
    Link {
        /// The record's seq.
        seq: u64,
    },
    /// A record's content does not match its hash (it was changed).
    #[error("record seq {seq}: content does not match its hash")]
    Content {
        /// The record's seq.
        seq: u64,
    },
    /// A record belongs to another case.
    #[error("record seq {seq}: belongs to case {found}, not {expected}")]
    ForeignCase {
        /// The record's seq.
        seq: u64,
        /// The case the log is for.
        expected: String,
        /// The case the record names.
        found: String,
    },
}

/// Checks a whole log from its first record: positions, links and contents.
pub fn verify_chain(case_id: &CaseId, records: &[EventRecord]) -> Result<(), ChainError> {
    let mut prev_hash = GENESIS_HASH.to_owned();
    for (index, record) in records.iter().enumerate() {
        let expected = index as u64 + 1;
        if record.seq != expected {
            return Err(ChainError::Sequence {
                index,
                expected,
                found: record.seq,
            });
        }
        if &record.case_id != case_id {
            return Err(ChainError::ForeignCase {
                seq: record.seq,
                expected: case_id.to_string(),
                found: record.case_id.to_string(),
            });
        }
        if record.prev_hash != prev_hash {
            return Err(ChainError::Link { seq: record.seq });
        }
        if record.compute_hash() != record.hash {
            return Err(ChainError::Content { seq: record.seq });
        }
        prev_hash = record.hash.clone();
    }
    Ok(())
}
