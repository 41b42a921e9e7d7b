//! What triage decides on: the case kind, product facts, the photo results per guide step and
//! the technician's findings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::case::{CaseKind, Product};

/// Quality reason codes a rejected photo can carry (`fieldlens.v1.PhotoReport` reasons).
pub const QUALITY_REASONS: [&str; 10] = [
    "blur",
    "underexposed",
    "overexposed",
    "glare",
    "noise",
    "low_resolution",
    "tilted",
    "framing",
    "recapture",
    "duplicate",
];

/// Everything one decision is made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageInputs {
    /// What the case is about; must be the kind the table's pack applies to.
    pub case_kind: CaseKind,
    /// The product concerned.
    pub product: ProductFacts,
    /// Photo results by guide step id; a step left out counts as missing.
    #[serde(default)]
    pub steps: BTreeMap<String, StepResult>,
    /// What the technician found.
    #[serde(default)]
    pub findings: Findings,
}

/// The product facts a table may look at.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductFacts {
    /// `car` or an appliance category such as `washing_machine`.
    pub category: String,
    /// Manufacturer; compared without regard to case.
    #[serde(default)]
    pub brand: String,
    /// Model name or number.
    #[serde(default)]
    pub model: String,
    /// Months since purchase or first registration; `None` when unknown.
    #[serde(default)]
    pub age_months: Option<u32>,
    /// Under the manufacturer's warranty.
    #[serde(default)]
    pub under_warranty: bool,
}

impl From<&Product> for ProductFacts {
    /// The case's product, reading an age of 0 as unknown (as the case model does).
    fn from(product: &Product) -> Self {
        ProductFacts {
            category: product.category.clone(),
            brand: product.brand.clone(),
            model: product.model.clone(),
            age_months: (product.age_months > 0).then_some(product.age_months),
            under_warranty: product.under_warranty,
        }
    }
}

/// Where a guide step's photos stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    /// The step has the photos it needs, accepted.
    Accepted,
    /// The last photo was rejected and not yet retaken.
    Retake,
    /// No photo yet.
    Missing,
    /// The step was skipped with a reason.
    Skipped,
}

impl PhotoStatus {
    /// Every status, as named in tables.
    pub const NAMES: [&'static str; 4] = ["accepted", "retake", "missing", "skipped"];

    /// The name used in tables and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoStatus::Accepted => "accepted",
            PhotoStatus::Retake => "retake",
            PhotoStatus::Missing => "missing",
            PhotoStatus::Skipped => "skipped",
        }
    }
}

/// The photo results of one guide step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepResult {
    /// Where the step stands.
    pub status: PhotoStatus,
    /// Accepted photos.
    #[serde(default)]
    pub photos: u32,
    /// Photos taken, accepted or not.
    #[serde(default)]
    pub attempts: u32,
    /// Quality reason codes of the step's rejected photos (see [`QUALITY_REASONS`]).
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// How bad one damaged area is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Cosmetic: scratches, small dents, a cracked trim.
    Minor,
    /// Needs repair or a part replaced.
    Moderate,
    /// Destroyed, or affects safety or structure.
    Severe,
}

impl Severity {
    /// Names used in tables for `damage.max_severity`, lowest first (`none` when no damage).
    pub const NAMES: [&'static str; 4] = ["none", "minor", "moderate", "severe"];

    /// The name used in tables and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Moderate => "moderate",
            Severity::Severe => "severe",
        }
    }
}

/// One damaged area or faulty component and how bad it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Damage {
    /// Area or component, from the table's `vocabulary.damage_areas` (e.g. `front_bumper`,
    /// `drain_pump`).
    pub area: String,
    /// How bad.
    pub severity: Severity,
}

/// What came of a fix the technician talked the caller through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixOutcome {
    /// The fault is gone.
    Resolved,
    /// Better, not gone.
    PartlyResolved,
    /// No change.
    NotResolved,
}

impl FixOutcome {
    /// Every outcome, as named in tables.
    pub const NAMES: [&'static str; 3] = ["resolved", "partly_resolved", "not_resolved"];

    /// The name used in tables and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            FixOutcome::Resolved => "resolved",
            FixOutcome::PartlyResolved => "partly_resolved",
            FixOutcome::NotResolved => "not_resolved",
        }
    }
}

/// A remote fix that was tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteFix {
    /// What was tried, from the table's `vocabulary.remote_fixes` (e.g. `clean_drain_filter`).
    pub action: String,
    /// What came of it.
    pub outcome: FixOutcome,
}

/// What the technician found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Findings {
    /// Damaged areas or faulty components.
    #[serde(default)]
    pub damage: Vec<Damage>,
    /// Error codes shown by the product (e.g. `E18`); compared without regard to case.
    #[serde(default)]
    pub error_codes: Vec<String>,
    /// Observed symptoms, from the table's `vocabulary.symptoms` (e.g. `leak`).
    #[serde(default)]
    pub symptoms: Vec<String>,
    /// The remote fix tried, if any.
    #[serde(default)]
    pub remote_fix: Option<RemoteFix>,
    /// Free notes for the people who read the case; rules only see whether there are any.
    #[serde(default)]
    pub notes: String,
}

/// An input that is not acceptable; `field` is its path, e.g. `findings.damage[2].area`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InputError {
    /// The offending input's path.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl InputError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        InputError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Normal form of an error code: trimmed, upper case.
pub(crate) fn normalise_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Whether an error code has a sane shape: ASCII letters, digits, `-`, `:` and spaces.
pub(crate) fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= super::limits::ERROR_CODE_BYTES
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-: ".contains(&b))
}
