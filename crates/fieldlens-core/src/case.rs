//! The case: what a caller asked for, where it stands, and the state machine that moves it.

use crate::event::{Actor, CaseEvent, EventRecord};
use crate::{CaseId, Priority, SessionId, TechnicianId, UnixMs};
use serde::{Deserialize, Serialize};

/// What a case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A vehicle damaged in a collision or incident (insurance claim).
    CarDamage,
    /// A household appliance that misbehaves.
    Appliance,
}

impl CaseKind {
    /// The snake_case name used in events, logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::CarDamage => "car_damage",
            CaseKind::Appliance => "appliance",
        }
    }

    /// The kind named `name` (as [`CaseKind::as_str`] writes it), if any.
    pub fn from_name(name: &str) -> Option<CaseKind> {
        [CaseKind::CarDamage, CaseKind::Appliance]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// Appliance categories the hub has guide packs and skills for.
pub const APPLIANCE_CATEGORIES: [&str; 4] = [
    "washing_machine",
    "refrigerator",
    "dishwasher",
    "air_conditioner",
];

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Created, not yet queued.
    Opened,
    /// Waiting for a technician.
    Queued,
    /// Reserved for one technician who has not answered yet.
    Offered,
    /// A technician accepted; a media session exists.
    Paired,
    /// Guided capture under way with the technician.
    Capturing,
    /// Findings recorded, decision proposed.
    Triaged,
    /// Claimed by a dispatcher for review.
    InReview,
    /// Decision approved or overridden; final.
    Closed,
    /// Cancelled by the caller or an operator; final.
    Cancelled,
    /// The caller left the queue; final.
    Abandoned,
}

impl CaseStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [CaseStatus; 10] = [
        CaseStatus::Opened,
        CaseStatus::Queued,
        CaseStatus::Offered,
        CaseStatus::Paired,
        CaseStatus::Capturing,
        CaseStatus::Triaged,
        CaseStatus::InReview,
        CaseStatus::Closed,
        CaseStatus::Cancelled,
        CaseStatus::Abandoned,
    ];

    /// True when nothing more can happen to the case.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CaseStatus::Closed | CaseStatus::Cancelled | CaseStatus::Abandoned
        )
    }

    /// True while the caller waits for a technician.
    pub fn is_waiting(self) -> bool {
        matches!(self, CaseStatus::Queued | CaseStatus::Offered)
    }

    /// The snake_case name used in events, logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Opened => "opened",
            CaseStatus::Queued => "queued",
            CaseStatus::Offered => "offered",
            CaseStatus::Paired => "paired",
            CaseStatus::Capturing => "capturing",
            CaseStatus::Triaged => "triaged",
            CaseStatus::InReview => "in_review",
            CaseStatus::Closed => "closed",
            CaseStatus::Cancelled => "cancelled",
            CaseStatus::Abandoned => "abandoned",
        }
    }
}

/// The thing being diagnosed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Product {
    /// `car`, or an appliance category from [`APPLIANCE_CATEGORIES`].
    pub category: String,
    /// Manufacturer.
    pub brand: String,
    /// Model name or number.
    pub model: String,
    /// VIN or serial number; may be empty.
    pub serial_number: String,
    /// Months since purchase or first registration; 0 when unknown.
    pub age_months: u32,
    /// Under the manufacturer's warranty.
    pub under_warranty: bool,
}

/// How to reach the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// The caller's name.
    pub name: String,
    /// Phone number, E.164.
    pub phone: String,
    /// E-mail address; may be empty.
    pub email: String,
}

/// A live or ended media session of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's id.
    pub id: SessionId,
    /// The technician in it.
    pub technician: TechnicianId,
    /// When the technician accepted.
    pub started_at: UnixMs,
    /// When the live session ended, if it has.
    pub ended_at: Option<UnixMs>,
}

/// The gist of a triage decision, kept on the case for lists and filters (the full
/// decision with its trace is in the `triaged` event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionSummary {
    /// Outcome name, e.g. `truck_roll_with_parts`.
    pub outcome: String,
    /// How soon, as triage judged.
    pub priority: Priority,
    /// When triage decided.
    pub triaged_at: UnixMs,
}

/// A case as the hub keeps it: the request, the current state, and what the
/// event log has established so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Stable id.
    pub id: CaseId,
    /// What the case is about.
    pub kind: CaseKind,
    /// The product concerned.
    pub product: Product,
    /// BCP 47 locale of the caller.
    pub locale: String,
    /// ISO 639-1 language derived from the locale; routing matches on it.
    pub language: String,
    /// Service region.
    pub region: String,
    /// How to reach the caller.
    pub contact: Contact,
    /// Routing priority.
    pub priority: Priority,
    /// The caller's own words.
    pub description: String,
    /// Skills a technician needs, derived from kind and product.
    pub required_skills: Vec<String>,
    /// The client's idempotency key.
    pub idempotency_key: String,
    /// Current status.
    pub status: CaseStatus,
    /// When opened.
    pub opened_at: UnixMs,
    /// When last changed.
    pub updated_at: UnixMs,
    /// Global arrival number: first come first served survives restarts.
    pub arrival: u64,
    /// When the case entered the queue (kept across offers, so a missed offer keeps the place).
    pub enqueued_at: Option<UnixMs>,
    /// Callback number when the caller asked to be called back.
    pub callback_phone: Option<String>,
    /// Technician currently holding an offer.
    pub offered_to: Option<TechnicianId>,
    /// The media session, once paired.
    pub session: Option<SessionRecord>,
    /// Dispatcher reviewing the case.
    pub reviewer: Option<String>,
    /// Guide pack of the capture, once started.
    #[serde(default)]
    pub capture_pack: Option<String>,
    /// The decision triage proposed last.
    #[serde(default)]
    pub decision: Option<DecisionSummary>,
    /// The decision a dispatcher approved or chose instead, once reviewed.
    #[serde(default)]
    pub final_decision: Option<String>,
    /// Number of events in the log so far.
    pub event_count: u64,
    /// Hash of the last event in the log.
    pub last_event_hash: String,
}

/// A change the state machine refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The event is not allowed in the case's current status.
    #[error("case {case} is {from}; cannot apply `{event}`")]
    NotAllowed {
        /// The case concerned.
        case: CaseId,
        /// Its status when the event was refused.
        from: &'static str,
        /// The event's kind.
        event: &'static str,
    },
    /// The event names a technician other than the one it must concern.
    #[error("case {case}: `{event}` concerns technician {expected}, not {got}")]
    WrongTechnician {
        /// The case concerned.
        case: CaseId,
        /// The event's kind.
        event: &'static str,
        /// The technician the case is with (or offered to).
        expected: String,
        /// The technician named by the event.
        got: String,
    },
}

impl Case {
    /// Applies one event to the case, enforcing the lifecycle:
    ///
    /// ```text
    /// opened → queued ⇄ offered → paired → capturing → triaged → in_review → closed
    ///   queued/offered → abandoned;  anything before triaged → cancelled
    /// ```
    ///
    /// Events that only record facts (callback requested, session ended, capture
    /// started while waiting) keep the status. An illegal event is an error and
    /// leaves the case unchanged.
    pub fn apply(&mut self, event: &CaseEvent, at: UnixMs) -> Result<(), TransitionError> {
        use CaseEvent as E;
        use CaseStatus as S;
        let next = match (self.status, event) {
            (S::Opened, E::Queued { .. }) => S::Queued,
            (S::Queued, E::Offered { .. }) => S::Offered,
            (S::Offered, E::OfferDeclined { technician, .. } | E::OfferExpired { technician }) => {
                self.check_technician(event, self.offered_to.as_ref(), technician)?;
                S::Queued
            }
            (S::Offered, E::Paired { technician, .. }) => {
                self.check_technician(event, self.offered_to.as_ref(), technician)?;
                S::Paired
            }
            (S::Queued | S::Offered, E::CallbackRequested { .. }) => self.status,
            (S::Paired | S::Capturing, E::ParticipantJoined { .. } | E::ParticipantLeft { .. }) => {
                self.status
            }
            // The call may go on while findings are recorded and reviewed.
            (
                S::Paired | S::Capturing | S::Triaged | S::InReview,
                E::SessionEnded { technician, .. },
            ) => {
                let with = self.session.as_ref().map(|s| &s.technician);
                self.check_technician(event, with, technician)?;
                if self.session.as_ref().is_some_and(|s| s.ended_at.is_some()) {
                    return Err(self.not_allowed(event));
                }
                self.status
            }
            (S::Queued | S::Offered, E::CaptureStarted { .. }) if self.capture_pack.is_none() => {
                self.status
            }
            // After a "more information needed" decision, capture may start then.
            (S::Paired | S::Triaged, E::CaptureStarted { .. }) if self.capture_pack.is_none() => {
                S::Capturing
            }
            // Capture may begin while waiting; with a technician it is "capturing",
            // and more photos after triage reopen capture.
            (
                S::Queued | S::Offered | S::Capturing,
                E::PhotoChecked { .. } | E::StepSkipped { .. } | E::StepPushed { .. },
            ) if self.capture_pack.is_some() => self.status,
            (
                S::Paired | S::Triaged,
                E::PhotoChecked { .. } | E::StepSkipped { .. } | E::StepPushed { .. },
            ) if self.capture_pack.is_some() => S::Capturing,
            (S::Paired | S::Capturing | S::Triaged, E::Triaged { .. }) => S::Triaged,
            (S::Triaged, E::ReviewClaimed { .. }) => S::InReview,
            (S::InReview, E::ReviewClaimed { .. } | E::ReviewReassigned { .. }) => S::InReview,
            (S::InReview, E::DecisionApproved { .. } | E::DecisionOverridden { .. }) => S::Closed,
            (S::Queued | S::Offered, E::Abandoned { .. }) => S::Abandoned,
            (
                S::Opened | S::Queued | S::Offered | S::Paired | S::Capturing,
                E::Cancelled { .. },
            ) => S::Cancelled,
            _ => return Err(self.not_allowed(event)),
        };
        self.record(event, at);
        self.status = next;
        self.updated_at = at;
        Ok(())
    }

    /// Updates the fields an event establishes (after the transition was allowed).
    fn record(&mut self, event: &CaseEvent, at: UnixMs) {
        use CaseEvent as E;
        match event {
            E::Queued { arrival } => {
                self.arrival = *arrival;
                self.enqueued_at.get_or_insert(at);
            }
            E::Offered { technician, .. } => self.offered_to = Some(technician.clone()),
            E::OfferDeclined { .. } | E::OfferExpired { .. } => self.offered_to = None,
            E::Paired {
                technician,
                session,
            } => {
                self.offered_to = None;
                self.session = Some(SessionRecord {
                    id: session.clone(),
                    technician: technician.clone(),
                    started_at: at,
                    ended_at: None,
                });
            }
            E::CallbackRequested { phone } => self.callback_phone = Some(phone.clone()),
            E::ParticipantJoined { .. } | E::ParticipantLeft { .. } => {}
            E::SessionEnded { .. } => {
                if let Some(session) = self.session.as_mut() {
                    session.ended_at = Some(at);
                }
            }
            E::ReviewClaimed { dispatcher } => self.reviewer = Some(dispatcher.clone()),
            E::ReviewReassigned { to, .. } => self.reviewer = Some(to.clone()),
            E::Triaged { decision, detail } => {
                self.decision = Some(DecisionSummary {
                    outcome: decision.clone(),
                    priority: detail["decision"]["priority"]
                        .as_str()
                        .and_then(|p| {
                            serde_json::from_value(serde_json::Value::String(p.into())).ok()
                        })
                        .unwrap_or(self.priority),
                    triaged_at: at,
                });
                self.final_decision = None;
                self.reviewer = None;
            }
            E::DecisionApproved { .. } => {
                self.final_decision = self.decision.as_ref().map(|d| d.outcome.clone());
            }
            E::DecisionOverridden { to, .. } => self.final_decision = Some(to.clone()),
            E::CaptureStarted { pack, .. } => self.capture_pack = Some(pack.clone()),
            E::Cancelled { .. } | E::Abandoned { .. } => self.offered_to = None,
            E::Opened(_)
            | E::PhotoChecked { .. }
            | E::StepSkipped { .. }
            | E::StepPushed { .. } => {}
        }
    }

    fn check_technician(
        &self,
        event: &CaseEvent,
        expected: Option<&TechnicianId>,
        got: &TechnicianId,
    ) -> Result<(), TransitionError> {
        match expected {
            Some(expected) if expected == got => Ok(()),
            _ => Err(TransitionError::WrongTechnician {
                case: self.id.clone(),
                event: event.kind_name(),
                expected: expected.map(|t| t.to_string()).unwrap_or_default(),
                got: got.to_string(),
            }),
        }
    }

    fn not_allowed(&self, event: &CaseEvent) -> TransitionError {
        TransitionError::NotAllowed {
            case: self.id.clone(),
            from: self.status.as_str(),
            event: event.kind_name(),
        }
    }

    /// Applies `event` and returns the chained log record for it. On error
    /// the case is unchanged and nothing should be stored.
    pub fn append(
        &mut self,
        event: CaseEvent,
        actor: Actor,
        at: UnixMs,
    ) -> Result<EventRecord, TransitionError> {
        self.apply(&event, at)?;
        let record = EventRecord::chained(
            self.id.clone(),
            self.event_count + 1,
            at,
            actor,
            event,
            std::mem::take(&mut self.last_event_hash),
        );
        self.event_count = record.seq;
        self.last_event_hash = record.hash.clone();
        Ok(record)
    }

    /// The technician with a live (not ended) session, if any.
    pub fn live_technician(&self) -> Option<&TechnicianId> {
        self.session
            .as_ref()
            .filter(|s| s.ended_at.is_none())
            .map(|s| &s.technician)
    }

    /// Whether `actor` may read this case: the technician who holds its offer
    /// or session, any dispatcher, or its own caller.
    pub fn visible_to(&self, actor: &Actor) -> bool {
        match actor {
            Actor::Caller { case } => case == &self.id,
            Actor::Technician { id } => {
                self.offered_to.as_ref() == Some(id)
                    || self.session.as_ref().is_some_and(|s| &s.technician == id)
            }
            Actor::Dispatcher { .. } | Actor::System => true,
        }
    }
}
