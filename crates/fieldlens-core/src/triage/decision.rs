//! The decision triage proposes, the trace that explains it, and the record kept in the case log.

use serde::{Deserialize, Serialize};

use super::inputs::TriageInputs;
use crate::Priority;
use crate::event::CaseEvent;

/// What should happen to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Fixed or settled remotely; no visit.
    RemoteResolved,
    /// A technician (or adjuster) must go on site.
    TruckRoll,
    /// A technician must go on site and bring parts.
    TruckRollWithParts,
    /// The damage may exceed the value (car) or the repair may not pay (appliance): a
    /// specialist reviews whether to write it off or replace.
    TotalLossReview,
    /// The caller must send more photos or answers before anything can be decided.
    MoreInfoNeeded,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 5] = [
        Outcome::RemoteResolved,
        Outcome::TruckRoll,
        Outcome::TruckRollWithParts,
        Outcome::TotalLossReview,
        Outcome::MoreInfoNeeded,
    ];

    /// The snake_case name used in tables, events and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::RemoteResolved => "remote_resolved",
            Outcome::TruckRoll => "truck_roll",
            Outcome::TruckRollWithParts => "truck_roll_with_parts",
            Outcome::TotalLossReview => "total_loss_review",
            Outcome::MoreInfoNeeded => "more_info_needed",
        }
    }

    /// Whether someone goes on site.
    pub fn is_truck_roll(self) -> bool {
        matches!(self, Outcome::TruckRoll | Outcome::TruckRollWithParts)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an outcome; expected one of remote_resolved, truck_roll, truck_roll_with_parts, total_loss_review, more_info_needed"
)]
pub struct UnknownOutcome(pub String);

impl std::str::FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == name)
            .ok_or_else(|| UnknownOutcome(name.to_owned()))
    }
}

/// How a table's matching rules make one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HitPolicy {
    /// Rules are tried in order; the first that matches decides alone.
    First,
    /// Every matching rule contributes; the table's precedence picks the outcome.
    Collect,
}

impl HitPolicy {
    /// The name used in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            HitPolicy::First => "first",
            HitPolicy::Collect => "collect",
        }
    }
}

/// Which table made a decision, so the decision can be reproduced and audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRef {
    /// The guide pack the table belongs to.
    pub pack: String,
    /// The table's version.
    pub version: u32,
    /// SHA-256 (hex) of the table file's text.
    pub sha256: String,
    /// The table's hit policy.
    pub hit_policy: HitPolicy,
}

/// One condition of a rule as evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionTrace {
    /// The input looked at, e.g. `findings.error_codes`.
    pub field: String,
    /// The test, e.g. `any_of ["E18", "E24"]`.
    pub test: String,
    /// The input's value (`null` when missing).
    pub actual: serde_json::Value,
    /// Whether the test held.
    pub passed: bool,
}

/// One rule as evaluated: whether it matched, and the conditions that show why (all of
/// them when it matched; up to the first that failed when it did not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTrace {
    /// The rule's id.
    pub rule: String,
    /// The rule's description.
    pub description: String,
    /// The outcome the rule proposes.
    pub outcome: Outcome,
    /// Whether every condition held.
    pub matched: bool,
    /// The conditions evaluated, in order.
    pub conditions: Vec<ConditionTrace>,
}

/// What triage proposes for a case, with everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What should happen.
    pub outcome: Outcome,
    /// Skills whoever goes on site (or reviews) needs.
    pub skills: Vec<String>,
    /// Parts likely needed.
    pub parts: Vec<String>,
    /// How soon.
    pub priority: Priority,
    /// How sure the table is, 0..1.
    pub confidence: f64,
    /// Reason codes, in the order the rules gave them.
    pub reasons: Vec<String>,
    /// Required guide steps without their accepted photos, in pack order.
    pub missing_steps: Vec<String>,
    /// Ids of the rules that matched and decided, in table order; empty when the table's
    /// default applied.
    pub fired: Vec<String>,
    /// Every rule evaluated (`first` stops at the first match).
    pub trace: Vec<RuleTrace>,
    /// The table that decided.
    pub table: TableRef,
}

impl Decision {
    /// Whether no rule matched and the table's default decided.
    pub fn is_default(&self) -> bool {
        self.fired.is_empty()
    }
}

/// The inputs and the decision together: what the `triaged` event of a case's log holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageRecord {
    /// What the decision was made from.
    pub inputs: TriageInputs,
    /// What was decided.
    pub decision: Decision,
}

impl TriageRecord {
    /// The `triaged` event for the case log: `decision` is the outcome's name, `detail` this
    /// record as JSON.
    pub fn to_event(&self) -> Result<CaseEvent, serde_json::Error> {
        Ok(CaseEvent::Triaged {
            decision: self.decision.outcome.as_str().to_owned(),
            detail: serde_json::to_value(self)?,
        })
    }

    /// Reads the record back from a `triaged` event; `None` for any other event.
    pub fn from_event(event: &CaseEvent) -> Option<Result<TriageRecord, serde_json::Error>> {
        match event {
            CaseEvent::Triaged { detail, .. } => {
                Some(serde_json::from_value::<TriageRecord>(detail.clone()))
            }
            _ => None,
        }
    }
}
