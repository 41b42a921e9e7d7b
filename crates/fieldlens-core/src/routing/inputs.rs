//! What the hub tells the router: callers waiting for help and technicians' profiles,
//! with the limits every one of them is checked against.

use serde::{Deserialize, Serialize};

use super::RoutingError;
use crate::{CaseId, Priority, TechnicianId, UnixMs};

/// Longest id, skill, language or region name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Most skills a caller may require.
pub const MAX_REQUIRED_SKILLS: usize = 32;
/// Most skills, languages or regions one technician may list (each).
pub const MAX_PROFILE_ENTRIES: usize = 64;
/// Most sessions one technician may hold at once.
pub const MAX_CAPACITY: u32 = 64;

/// A caller waiting for a technician.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerRequest {
    /// The case the caller opened.
    pub case_id: CaseId,
    /// Higher priorities are served first.
    pub priority: Priority,
    /// Skills a technician must all have, e.g. `car_damage`, `ev`.
    pub skills: Vec<String>,
    /// The caller's language, e.g. `en` or `zh`.
    pub language: String,
    /// The caller's region, e.g. `de-by`.
    pub region: String,
    /// When the caller joined the queue; waiting time, and so the eligibility tier, counts
    /// from here.
    pub enqueued_at_ms: UnixMs,
    /// Monotonic arrival number assigned and persisted by the hub: first come first served
    /// within a priority, across restarts. Must increase with `enqueued_at_ms`.
    pub arrival: u64,
    /// The caller asked to be called back instead of waiting on the line; they keep their place.
    pub callback: bool,
}

/// What a technician can do, as announced with their presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechnicianProfile {
    /// Who the technician is.
    pub id: TechnicianId,
    /// Skills the technician has.
    pub skills: Vec<String>,
    /// Languages the technician speaks.
    pub languages: Vec<String>,
    /// Regions the technician serves.
    pub regions: Vec<String>,
    /// How many sessions the technician may hold at once (offers count against it).
    pub capacity: u32,
}

/// A bad field: its name and what is wrong with it.
type Problem = (String, String);

fn check_name(value: &str, field: &str) -> Result<(), Problem> {
    let problem = |reason: String| Err((field.to_owned(), reason));
    if value.trim().is_empty() {
        return problem("must not be empty".into());
    }
    if value.len() > MAX_NAME_LEN {
        return problem(format!("longer than {MAX_NAME_LEN} bytes"));
    }
    Ok(())
}

fn check_names(values: &[String], field: &str, max: usize) -> Result<(), Problem> {
    if values.len() > max {
        return Err((field.to_owned(), format!("more than {max} entries")));
    }
    values
        .iter()
        .enumerate()
        .try_for_each(|(index, value)| check_name(value, &format!("{field}[{index}]")))
}

impl CallerRequest {
    /// Checks ids and names against the limits; the error names the bad field.
    pub fn validate(&self) -> Result<(), RoutingError> {
        check_name(self.case_id.as_str(), "case_id")
            .and_then(|()| check_names(&self.skills, "skills", MAX_REQUIRED_SKILLS))
            .and_then(|()| check_name(&self.language, "language"))
            .and_then(|()| check_name(&self.region, "region"))
            .map_err(|(field, reason)| RoutingError::InvalidRequest { field, reason })
    }
}

impl TechnicianProfile {
    /// Checks ids, names and capacity against the limits; the error names the bad field.
    pub fn validate(&self) -> Result<(), RoutingError> {
        check_name(self.id.as_str(), "id")
            .and_then(|()| check_names(&self.skills, "skills", MAX_PROFILE_ENTRIES))
            .and_then(|()| check_names(&self.languages, "languages", MAX_PROFILE_ENTRIES))
            .and_then(|()| check_names(&self.regions, "regions", MAX_PROFILE_ENTRIES))
            .and_then(|()| {
                if self.capacity > MAX_CAPACITY {
                    Err(("capacity".to_owned(), format!("at most {MAX_CAPACITY}")))
                } else {
                    Ok(())
                }
            })
            .map_err(|(field, reason)| RoutingError::InvalidProfile { field, reason })
    }
}
