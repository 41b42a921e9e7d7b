//! Errors of the routing engine: each names what was wrong so the hub can answer precisely.

use crate::{CaseId, TechnicianId, UnixMs};

/// Why a routing operation was refused. A refused operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The routing policy (from the hub's config file) has a bad value; `field` is its path,
    /// e.g. `tiers[1].after_wait_ms`.
    #[error("invalid routing policy: {field}: {reason}")]
    InvalidPolicy {
        /// Path of the offending setting.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A caller request has a bad field, e.g. an empty `language`.
    #[error("invalid caller request: {field}: {reason}")]
    InvalidRequest {
        /// Name of the offending field of [`CallerRequest`](super::CallerRequest).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A technician profile has a bad field, e.g. a capacity above the limit.
    #[error("invalid technician profile: {field}: {reason}")]
    InvalidProfile {
        /// Name of the offending field of [`TechnicianProfile`](super::TechnicianProfile).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The case is already waiting in the queue or in a session, so it cannot be added again.
    #[error("case {0} is already queued or in a session")]
    DuplicateCase(CaseId),
    /// The case is not waiting in the queue (never queued, accepted, or removed).
    #[error("case {0} is not in the queue")]
    NotQueued(CaseId),
    /// The technician does not hold an offer for this case (never offered, or already
    /// answered, expired or withdrawn).
    #[error("technician {technician} holds no offer for case {case}")]
    NoOffer {
        /// The case named in the answer.
        case: CaseId,
        /// The technician who answered.
        technician: TechnicianId,
    },
    /// The offer ran out before the answer arrived; the caller will be (or was) put back
    /// in the queue by [`Router::expire_offers`](super::Router::expire_offers).
    #[error("the offer of case {case} to technician {technician} expired at {expired_at}")]
    OfferExpired {
        /// The case of the offer.
        case: CaseId,
        /// The technician the offer was made to.
        technician: TechnicianId,
        /// When the offer stopped being valid (Unix ms).
        expired_at: UnixMs,
    },
    /// There is no active session for this case.
    #[error("case {0} has no active session")]
    NoSession(CaseId),
}
