//! Domain model of fieldlens: cases, their lifecycle, routing and triage — pure logic, no IO.
//!
//! Nothing here knows about tokio, tonic, quinn or sled. Time is always passed
//! in as Unix epoch milliseconds so every rule can be tested deterministically.

pub mod case;
pub mod event;
pub mod ids;
pub mod intake;
pub mod priority;
pub mod routing;
pub mod technician;
pub mod token;
pub mod triage;

pub use case::{Case, CaseKind, CaseStatus, Contact, Product, TransitionError};
pub use event::{Actor, CaseEvent, EventRecord};
pub use ids::{CaseId, SessionId, TechnicianId};
pub use intake::{NewCase, ValidationError};
pub use priority::Priority;

/// Milliseconds since the Unix epoch; the only notion of time in the core.
pub type UnixMs = i64;
