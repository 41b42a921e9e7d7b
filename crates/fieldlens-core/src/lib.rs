//! Domain model of fieldlens: cases, their lifecycle, routing and triage — pure logic, no IO.
//!
//! Nothing here knows about tokio, tonic, quinn or sled. Time is always passed
//! in as Unix epoch milliseconds so every rule can be tested deterministically.

pub mod ids;
pub mod priority;

pub use ids::{CaseId, SessionId, TechnicianId};
pub use priority::Priority;

/// Milliseconds since the Unix epoch; the only notion of time in the core.
pub type UnixMs = i64;
