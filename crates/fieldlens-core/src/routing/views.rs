//! What the router tells the hub: offers, expiries, queue standing and read-only views.

use serde::{Deserialize, Serialize};

use super::CallerRequest;
use crate::{CaseId, Priority, TechnicianId, UnixMs};

/// One routing decision: the case is reserved for the technician until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The caller's case.
    pub case_id: CaseId,
    /// The technician who may accept it.
    pub technician_id: TechnicianId,
    /// Index into [`RoutingPolicy::tiers`](super::RoutingPolicy::tiers) the match was made under.
    pub tier: usize,
    /// How long the caller had waited when the offer was made.
    pub waited_ms: i64,
    /// When the reservation lapses unless accepted or declined.
    pub expires_at: UnixMs,
    /// The caller's priority.
    pub priority: Priority,
    /// The caller asked to be called back, so the technician must call them.
    pub callback: bool,
}

/// An offer that ran out: the caller is back at the same place in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredOffer {
    /// The caller's case.
    pub case_id: CaseId,
    /// The technician who missed the offer.
    pub technician_id: TechnicianId,
    /// The technician's consecutive missed offers, this one included.
    pub missed_offers: u32,
    /// This miss paused the technician automatically; they receive nothing until they announce
    /// themselves available again.
    pub technician_paused: bool,
}

/// A caller taken out of the queue by [`Router::remove`](super::Router::remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedCaller {
    /// The request as it was queued (with the latest callback flag).
    pub request: CallerRequest,
    /// The technician whose pending offer for this case was withdrawn, if any.
    pub withdrawn_offer: Option<TechnicianId>,
}

/// Where a caller stands in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// 1-based place in routing order (priority, then arrival), counting callers who hold an
    /// offer but have not been accepted yet.
    pub position: usize,
    /// Callers in the queue, offered ones included.
    pub waiting_total: usize,
    /// Estimated time until a technician is offered this caller (0 while an offer is pending);
    /// `None` when no staffed technician could serve this caller at any tier.
    pub estimated_wait_ms: Option<i64>,
    /// The eligibility tier that applies now.
    pub tier: usize,
    /// The technician currently holding an offer for this caller.
    pub offered_to: Option<TechnicianId>,
}

/// One caller in [`Router::queue_view`](super::Router::queue_view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntryView {
    /// 1-based place in routing order.
    pub position: usize,
    /// The request as queued (with the latest callback flag).
    pub request: CallerRequest,
    /// How long the caller has waited.
    pub waited_ms: i64,
    /// The eligibility tier that applies now.
    pub tier: usize,
    /// The technician holding an offer for this caller, if any.
    pub offered_to: Option<TechnicianId>,
    /// When that offer lapses.
    pub offer_expires_at: Option<UnixMs>,
}

/// A technician as the router sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechnicianView {
    /// Who the technician is.
    pub id: TechnicianId,
    /// Skills from the last announcement (empty if only known from a restored session).
    pub skills: Vec<String>,
    /// Languages from the last announcement.
    pub languages: Vec<String>,
    /// Regions from the last announcement.
    pub regions: Vec<String>,
    /// Sessions the technician may hold at once.
    pub capacity: u32,
    /// The technician announced themselves available.
    pub available: bool,
    /// Paused automatically after too many missed offers.
    pub paused: bool,
    /// Consecutive missed offers.
    pub missed_offers: u32,
    /// Cases in session with this technician, sorted.
    pub active_cases: Vec<CaseId>,
    /// Cases currently offered to this technician, sorted.
    pub offered_cases: Vec<CaseId>,
    /// Since when the technician has been idle (no sessions, no offers); among eligible
    /// technicians with equal load the one idle longest is offered first.
    pub idle_since: Option<UnixMs>,
}
