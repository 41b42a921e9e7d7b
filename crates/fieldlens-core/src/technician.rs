//! What the hub keeps about a technician between restarts.

use crate::{TechnicianId, UnixMs};
use serde::{Deserialize, Serialize};

/// A technician's last announced presence, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechnicianRecord {
    /// The technician's id (from their API key).
    pub id: TechnicianId,
    /// Name to show.
    pub display_name: String,
    /// Skills, e.g. `car_damage`, `appliance.refrigerator`.
    pub skills: Vec<String>,
    /// ISO 639-1 languages.
    pub languages: Vec<String>,
    /// Region codes served.
    pub regions: Vec<String>,
    /// Sessions at once.
    pub capacity: u32,
    /// When the presence was last announced.
    pub updated_at: UnixMs,
}
