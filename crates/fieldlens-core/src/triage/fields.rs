//! The inputs a table may test, by name (`findings.error_codes`, `step.rating_plate.status`…),
//! their types, and their values for one case.

use std::collections::{BTreeMap, BTreeSet};

use super::inputs::{
    FixOutcome, PhotoStatus, QUALITY_REASONS, Severity, TriageInputs, normalise_code,
};
use super::table::TableContext;
use crate::case::APPLIANCE_CATEGORIES;

/// Product categories a table may name.
pub(crate) const PRODUCT_CATEGORIES: [&str; 5] = [
    "car",
    APPLIANCE_CATEGORIES[0],
    APPLIANCE_CATEGORIES[1],
    APPLIANCE_CATEGORIES[2],
    APPLIANCE_CATEGORIES[3],
];
const CASE_KINDS: [&str; 2] = ["car_damage", "appliance"];

/// The type of an input, which decides the tests that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One string (or missing).
    Text,
    /// One number (or missing).
    Number,
    /// True or false.
    Flag,
    /// A set of strings (possibly empty; never missing).
    Set,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "number",
            Kind::Flag => "flag",
            Kind::Set => "set",
        }
    }
}

/// Which literal values a text or set input can take, so tables cannot test for a typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Domain {
    /// Any string, compared exactly.
    Free,
    /// Any string, compared in lower case.
    Lower,
    /// Exactly these names.
    Fixed(&'static [&'static str]),
    /// The pack's step ids.
    Steps,
    /// The table's `vocabulary.damage_areas`.
    DamageAreas,
    /// The table's `vocabulary.symptoms`.
    Symptoms,
    /// The table's `vocabulary.remote_fixes`.
    RemoteFixes,
    /// Error codes, compared in upper case.
    ErrorCode,
}

/// Where an input's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    CaseKind,
    Category,
    Brand,
    Model,
    AgeMonths,
    UnderWarranty,
    CaptureComplete,
    MissingRequired,
    RejectedPhotos,
    StepStatus(usize),
    StepPhotos(usize),
    StepAttempts(usize),
    StepReasons(usize),
    InputStatus(usize),
    InputPhotos(usize),
    DamageAreas,
    MajorAreas,
    SevereAreas,
    MaxSeverity,
    DamageCount,
    ErrorCodes,
    Symptoms,
    Notes,
    FixTried,
    FixAction,
    FixOutcome,
}

/// One input a table may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub kind: Kind,
    pub domain: Domain,
    pub source: Source,
}

/// Every input a table for one pack may test.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Schema {
    fields: BTreeMap<String, FieldSpec>,
    /// Per triage input id of the pack, the indices of the steps feeding it.
    inputs: Vec<Vec<usize>>,
    /// The pack's step ids, in order.
    steps: Vec<String>,
}

impl Schema {
    pub(crate) fn new(context: &TableContext) -> Schema {
        use Domain::*;
        use Kind::*;
        let mut fields = BTreeMap::new();
        let mut add = |name: String, kind, domain, source| {
            fields.insert(
                name,
                FieldSpec {
                    kind,
                    domain,
                    source,
                },
            );
        };
        let fixed: [(&str, Kind, Domain, Source); 20] = [
            ("case.kind", Text, Fixed(&CASE_KINDS), Source::CaseKind),
            (
                "product.category",
                Text,
                Fixed(&PRODUCT_CATEGORIES),
                Source::Category,
            ),
            ("product.brand", Text, Lower, Source::Brand),
            ("product.model", Text, Free, Source::Model),
            ("product.age_months", Number, Free, Source::AgeMonths),
            ("product.under_warranty", Flag, Free, Source::UnderWarranty),
            ("capture.complete", Flag, Free, Source::CaptureComplete),
            (
                "capture.missing_required",
                Set,
                Steps,
                Source::MissingRequired,
            ),
            (
                "capture.rejected_photos",
                Number,
                Free,
                Source::RejectedPhotos,
            ),
            ("damage.areas", Set, DamageAreas, Source::DamageAreas),
            ("damage.major_areas", Set, DamageAreas, Source::MajorAreas),
            ("damage.severe_areas", Set, DamageAreas, Source::SevereAreas),
            (
                "damage.max_severity",
                Text,
                Fixed(&Severity::NAMES),
                Source::MaxSeverity,
            ),
            ("damage.count", Number, Free, Source::DamageCount),
            ("findings.error_codes", Set, ErrorCode, Source::ErrorCodes),
            ("findings.symptoms", Set, Symptoms, Source::Symptoms),
            ("findings.notes", Text, Free, Source::Notes),
            ("remote_fix.tried", Flag, Free, Source::FixTried),
            ("remote_fix.action", Text, RemoteFixes, Source::FixAction),
            (
                "remote_fix.outcome",
                Text,
                Fixed(&FixOutcome::NAMES),
                Source::FixOutcome,
            ),
        ];
        for (name, kind, domain, source) in fixed {
            add(name.to_owned(), kind, domain, source);
        }
        for (index, step) in context.steps.iter().enumerate() {
            let id = &step.id;
            add(
                format!("step.{id}.status"),
                Text,
                Fixed(&PhotoStatus::NAMES),
                Source::StepStatus(index),
            );
            add(
                format!("step.{id}.photos"),
                Number,
                Free,
                Source::StepPhotos(index),
            );
            add(
                format!("step.{id}.attempts"),
                Number,
                Free,
                Source::StepAttempts(index),
            );
            add(
                format!("step.{id}.reasons"),
                Set,
                Fixed(&QUALITY_REASONS),
                Source::StepReasons(index),
            );
        }
        let mut input_steps: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, step) in context.steps.iter().enumerate() {
            for input in &step.feeds {
                input_steps.entry(input).or_default().push(index);
            }
        }
        let mut inputs = Vec::new();
        for (slot, (input, steps)) in input_steps.into_iter().enumerate() {
            add(
                format!("input.{input}.status"),
                Text,
                Fixed(&PhotoStatus::NAMES),
                Source::InputStatus(slot),
            );
            add(
                format!("input.{input}.photos"),
                Number,
                Free,
                Source::InputPhotos(slot),
            );
            inputs.push(steps);
        }
        Schema {
            fields,
            inputs,
            steps: context.steps.iter().map(|step| step.id.clone()).collect(),
        }
    }

    pub(crate) fn step_ids(&self) -> &[String] {
        &self.steps
    }

    pub(crate) fn get(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.get(name)
    }

    /// The known field closest to a misspelt one, if any is close.
    pub(crate) fn nearest(&self, name: &str) -> Option<&str> {
        self.fields
            .keys()
            .map(|known| (edit_distance(name, known), known))
            .filter(|(distance, _)| *distance <= 3)
            .min()
            .map(|(_, known)| known.as_str())
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// An input's value for one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Actual<'f> {
    Missing,
    Text(&'f str),
    Number(f64),
    Flag(bool),
    Set(&'f BTreeSet<String>),
}

impl Actual<'_> {
    pub(crate) fn to_json(self) -> serde_json::Value {
        match self {
            Actual::Missing => serde_json::Value::Null,
            Actual::Text(text) => text.into(),
            // Every number an input holds is a count or an age: show it as an integer.
            Actual::Number(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
                (number as i64).into()
            }
            Actual::Number(number) => serde_json::Number::from_f64(number)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Actual::Flag(flag) => flag.into(),
            Actual::Set(set) => set.iter().cloned().collect(),
        }
    }
}

struct StepFacts {
    status: PhotoStatus,
    photos: u32,
    attempts: u32,
    reasons: BTreeSet<String>,
}

/// The values of every input for one case, computed once per evaluation.
pub(crate) struct Facts<'a> {
    inputs: &'a TriageInputs,
    brand: String,
    steps: Vec<StepFacts>,
    input_facts: Vec<(PhotoStatus, u32)>,
    /// Required steps without their photos, in pack order.
    pub missing_steps: Vec<String>,
    missing_required: BTreeSet<String>,
    rejected: u32,
    areas: BTreeSet<String>,
    major_areas: BTreeSet<String>,
    severe_areas: BTreeSet<String>,
    max_severity: &'static str,
    error_codes: BTreeSet<String>,
    symptoms: BTreeSet<String>,
}

impl<'a> Facts<'a> {
    /// Facts of inputs already checked against the table.
    pub(crate) fn new(context: &TableContext, schema: &Schema, inputs: &'a TriageInputs) -> Self {
        let steps: Vec<StepFacts> = context
            .steps
            .iter()
            .map(|step| match inputs.steps.get(&step.id) {
                Some(result) => StepFacts {
                    status: result.status,
                    photos: result.photos,
                    attempts: result.attempts,
                    reasons: result.reasons.iter().cloned().collect(),
                },
                None => StepFacts {
                    status: PhotoStatus::Missing,
                    photos: 0,
                    attempts: 0,
                    reasons: BTreeSet::new(),
                },
            })
            .collect();
        let input_facts = schema
            .inputs
            .iter()
            .map(|feeding| {
                let photos = feeding.iter().map(|&i| steps[i].photos).sum::<u32>();
                let has = |status| feeding.iter().any(|&i| steps[i].status == status);
                let status = if photos > 0 || has(PhotoStatus::Accepted) {
                    PhotoStatus::Accepted
                } else if has(PhotoStatus::Retake) {
                    PhotoStatus::Retake
                } else if feeding
                    .iter()
                    .all(|&i| steps[i].status == PhotoStatus::Skipped)
                {
                    PhotoStatus::Skipped
                } else {
                    PhotoStatus::Missing
                };
                (status, photos)
            })
            .collect();
        let missing_steps: Vec<String> = context
            .steps
            .iter()
            .zip(&steps)
            .filter(|(step, facts)| step.required && facts.status != PhotoStatus::Accepted)
            .map(|(step, _)| step.id.clone())
            .collect();
        let damage = &inputs.findings.damage;
        let areas_at = |least: Severity| {
            damage
                .iter()
                .filter(|d| d.severity >= least)
                .map(|d| d.area.clone())
                .collect::<BTreeSet<_>>()
        };
        Facts {
            brand: inputs.product.brand.trim().to_lowercase(),
            rejected: steps
                .iter()
                .map(|s| s.attempts.saturating_sub(s.photos))
                .sum(),
            input_facts,
            missing_required: missing_steps.iter().cloned().collect(),
            missing_steps,
            steps,
            areas: areas_at(Severity::Minor),
            major_areas: areas_at(Severity::Moderate),
            severe_areas: areas_at(Severity::Severe),
            max_severity: damage
                .iter()
                .map(|d| d.severity)
                .max()
                .map_or("none", Severity::as_str),
            error_codes: inputs
                .findings
                .error_codes
                .iter()
                .map(|code| normalise_code(code))
                .collect(),
            symptoms: inputs.findings.symptoms.iter().cloned().collect(),
            inputs,
        }
    }

    pub(crate) fn value(&self, source: Source) -> Actual<'_> {
        let inputs = self.inputs;
        let text_or_missing = |text: &'a str| {
            if text.trim().is_empty() {
                Actual::Missing
            } else {
                Actual::Text(text)
            }
        };
        let fix = inputs.findings.remote_fix.as_ref();
        match source {
            Source::CaseKind => Actual::Text(inputs.case_kind.as_str()),
            Source::Category => text_or_missing(&inputs.product.category),
            Source::Brand => {
                if self.brand.is_empty() {
                    Actual::Missing
                } else {
                    Actual::Text(&self.brand)
                }
            }
            Source::Model => text_or_missing(&inputs.product.model),
            Source::AgeMonths => inputs
                .product
                .age_months
                .map_or(Actual::Missing, |age| Actual::Number(f64::from(age))),
            Source::UnderWarranty => Actual::Flag(inputs.product.under_warranty),
            Source::CaptureComplete => Actual::Flag(self.missing_steps.is_empty()),
            Source::MissingRequired => Actual::Set(&self.missing_required),
            Source::RejectedPhotos => Actual::Number(f64::from(self.rejected)),
            Source::StepStatus(i) => Actual::Text(self.steps[i].status.as_str()),
            Source::StepPhotos(i) => Actual::Number(f64::from(self.steps[i].photos)),
            Source::StepAttempts(i) => Actual::Number(f64::from(self.steps[i].attempts)),
            Source::StepReasons(i) => Actual::Set(&self.steps[i].reasons),
            Source::InputStatus(i) => Actual::Text(self.input_facts[i].0.as_str()),
            Source::InputPhotos(i) => Actual::Number(f64::from(self.input_facts[i].1)),
            Source::DamageAreas => Actual::Set(&self.areas),
            Source::MajorAreas => Actual::Set(&self.major_areas),
            Source::SevereAreas => Actual::Set(&self.severe_areas),
            Source::MaxSeverity => Actual::Text(self.max_severity),
            Source::DamageCount => Actual::Number(inputs.findings.damage.len() as f64),
            Source::ErrorCodes => Actual::Set(&self.error_codes),
            Source::Symptoms => Actual::Set(&self.symptoms),
            Source::Notes => text_or_missing(&inputs.findings.notes),
            Source::FixTried => Actual::Flag(fix.is_some()),
            Source::FixAction => fix.map_or(Actual::Missing, |fix| Actual::Text(&fix.action)),
            Source::FixOutcome => {
                fix.map_or(Actual::Missing, |fix| Actual::Text(fix.outcome.as_str()))
            }
        }
    }
}
