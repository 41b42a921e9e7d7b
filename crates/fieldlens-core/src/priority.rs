//! Routing priority of a case: higher priorities are always served first.

use serde::{Deserialize, Serialize};

/// How soon a case should be served. Ordered: `Normal < High < Urgent`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// The usual priority.
    #[default]
    Normal,
    /// Before normal cases, e.g. a refrigerator with food at risk.
    High,
    /// Before everything else, e.g. a safety hazard.
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 3] = [Priority::Normal, Priority::High, Priority::Urgent];

    /// The snake_case name used in events, logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}
