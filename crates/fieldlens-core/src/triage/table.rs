//! Decision tables: the TOML format, its validation on load, and the compiled rules.
//!
//! A table is checked against the guide pack it sits beside ([`TableContext`]): every input it
//! tests must exist for that pack, every value it compares with must be one the input can
//! take. All problems are collected, each naming the file, the rule and the field.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::decision::{HitPolicy, Outcome};
use super::fields::{Actual, Domain, Kind, Schema, Source};
use super::inputs::{is_error_code, normalise_code};
use super::limits;
use crate::Priority;
use crate::case::CaseKind;

/// What a table is checked against: the guide pack beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableContext {
    /// The pack's id (= its folder name).
    pub pack: String,
    /// The case kind the pack applies to.
    pub case_kind: CaseKind,
    /// The pack's steps, in capture order.
    pub steps: Vec<StepInfo>,
}

/// What a table needs to know of one guide step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInfo {
    /// The step's id.
    pub id: String,
    /// Whether the capture is incomplete without it.
    pub required: bool,
    /// The triage inputs its photos feed.
    pub feeds: Vec<String>,
}

/// Where in a table a problem is: the file, and the rule and field when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The table's file name as given to [`DecisionTable::parse`].
    pub file: String,
    /// The rule's id (or `#N` when it has none), when the problem is inside a rule.
    pub rule: Option<String>,
    /// The field path inside the rule or the table, e.g. `when[1].any_of`.
    pub field: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(rule) = &self.rule {
            write!(f, ": rule `{rule}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        Ok(())
    }
}

/// A problem with a decision table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The file is larger than [`limits::TABLE_BYTES`].
    #[error("{file}: {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not TOML, or not the shape of a table (unknown key, wrong type, missing key).
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// The parser's message.
        message: String,
    },
    /// A condition tests an input that does not exist for this pack.
    #[error("{at}: unknown input `{name}`{hint}")]
    UnknownInput {
        /// Where.
        at: Location,
        /// The input named.
        name: String,
        /// A suggestion (`; did you mean …?`) or an empty string.
        hint: String,
    },
    /// A name that is not one of those allowed: an outcome, a priority, a hit policy, a
    /// step status, a symptom outside the vocabulary…
    #[error("{at}: {value:?} is not a known {what}; expected one of {allowed}")]
    UnknownValue {
        /// Where.
        at: Location,
        /// What kind of name was expected.
        what: String,
        /// The name found.
        value: String,
        /// The names allowed (abridged when long).
        allowed: String,
    },
    /// A condition with no test, several tests, or a test that does not apply to the input's
    /// type (e.g. `any_of` on a number).
    #[error("{at}: {problem}")]
    BadOperator {
        /// Where.
        at: Location,
        /// What is wrong.
        problem: String,
    },
    /// An id used twice (rule ids, vocabulary entries, values in one list).
    #[error("{at}: duplicate {what} `{id}`")]
    Duplicate {
        /// Where.
        at: Location,
        /// What kind of id.
        what: String,
        /// The id.
        id: String,
    },
    /// More of something than [`limits`] allows.
    #[error("{at}: {count} {what}, more than the limit of {limit}")]
    Limit {
        /// Where.
        at: Location,
        /// What was counted.
        what: String,
        /// How many there are.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Any other rule of the format broken (empty description, `min` above `max`,
    /// a truck roll without skills, a table for another pack…).
    #[error("{at}: {problem}")]
    Invalid {
        /// Where.
        at: Location,
        /// What is wrong.
        problem: String,
    },
}

/// Every problem found in one table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TableErrors(pub Vec<TableError>);

impl fmt::Display for TableErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// The words a table's findings may use; findings outside them are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vocabulary {
    /// Damaged areas or faulty components, e.g. `front_bumper`, `drain_pump`.
    pub damage_areas: Vec<String>,
    /// Symptoms, e.g. `leak`, `airbags_deployed`.
    pub symptoms: Vec<String>,
    /// Remote fixes a technician can talk a caller through, e.g. `clean_drain_filter`.
    pub remote_fixes: Vec<String>,
}

/// What a rule (or the table's default) proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutput {
    /// The outcome.
    pub outcome: Outcome,
    /// Skills needed.
    pub skills: Vec<String>,
    /// Parts likely needed.
    pub parts: Vec<String>,
    /// How soon.
    pub priority: Priority,
    /// How sure, 0..1.
    pub confidence: f64,
    /// Reason codes.
    pub reasons: Vec<String>,
}

/// A literal a condition compares with.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
    Flag(bool),
}

impl Literal {
    fn matches(&self, actual: Actual<'_>) -> bool {
        match (self, actual) {
            (Literal::Text(want), Actual::Text(have)) => want == have,
            (Literal::Number(want), Actual::Number(have)) => *want == have,
            (Literal::Flag(want), Actual::Flag(have)) => *want == have,
            _ => false,
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(text) => write!(f, "{text:?}"),
            Literal::Number(number) => write!(f, "{number}"),
            Literal::Flag(flag) => write!(f, "{flag}"),
        }
    }
}

/// A compiled test.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Eq(Literal),
    Ne(Literal),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Range { min: Option<f64>, max: Option<f64> },
    AnyOf(BTreeSet<String>),
    AllOf(BTreeSet<String>),
    NoneOf(BTreeSet<String>),
    Present(bool),
}

impl Test {
    /// Whether the test holds. A missing value passes only `present = false`; a set is
    /// never missing, only empty.
    fn holds(&self, actual: Actual<'_>) -> bool {
        match (self, actual) {
            (Test::Present(want), Actual::Set(set)) => set.is_empty() != *want,
            (Test::Present(want), Actual::Missing) => !*want,
            (Test::Present(want), _) => *want,
            (_, Actual::Missing) => false,
            (Test::Eq(literal), actual) => literal.matches(actual),
            (Test::Ne(literal), actual) => !literal.matches(actual),
            (Test::In(values), Actual::Text(text)) => values.contains(text),
            (Test::NotIn(values), Actual::Text(text)) => !values.contains(text),
            (Test::Range { min, max }, Actual::Number(number)) => {
                min.is_none_or(|min| number >= min) && max.is_none_or(|max| number <= max)
            }
            (Test::AnyOf(values), Actual::Set(set)) => values.iter().any(|v| set.contains(v)),
            (Test::AllOf(values), Actual::Set(set)) => values.iter().all(|v| set.contains(v)),
            (Test::NoneOf(values), Actual::Set(set)) => !values.iter().any(|v| set.contains(v)),
            _ => false,
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, op: &str, values: &BTreeSet<String>| {
            let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            write!(f, "{op} [{}]", quoted.join(", "))
        };
        match self {
            Test::Eq(literal) => write!(f, "eq {literal}"),
            Test::Ne(literal) => write!(f, "ne {literal}"),
            Test::In(values) => list(f, "in", values),
            Test::NotIn(values) => list(f, "not_in", values),
            Test::AnyOf(values) => list(f, "any_of", values),
            Test::AllOf(values) => list(f, "all_of", values),
            Test::NoneOf(values) => list(f, "none_of", values),
            Test::Range { min, max } => match (min, max) {
                (Some(min), Some(max)) => write!(f, "min {min}, max {max}"),
                (Some(min), None) => write!(f, "min {min}"),
                (None, Some(max)) => write!(f, "max {max}"),
                (None, None) => f.write_str("any number"),
            },
            Test::Present(want) => write!(f, "present {want}"),
        }
    }
}

/// One compiled condition of a rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    pub field: String,
    pub source: Source,
    test: Test,
}

impl Condition {
    pub(crate) fn holds(&self, actual: Actual<'_>) -> bool {
        self.test.holds(actual)
    }

    pub(crate) fn describe(&self) -> String {
        self.test.to_string()
    }
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique in the table.
    pub id: String,
    /// What the rule is for, in words.
    pub description: String,
    pub(crate) conditions: Vec<Condition>,
    /// What the rule proposes when every condition holds.
    pub output: RuleOutput,
}

impl Rule {
    /// The input names the rule tests, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.conditions.iter().map(|c| c.field.as_str())
    }
}

/// A validated decision table for one guide pack.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTable {
    pub(crate) file: String,
    pub(crate) pack: String,
    pub(crate) version: u32,
    pub(crate) hit_policy: HitPolicy,
    pub(crate) precedence: Vec<Outcome>,
    pub(crate) vocabulary: Vocabulary,
    pub(crate) default: RuleOutput,
    pub(crate) rules: Vec<Rule>,
    pub(crate) context: TableContext,
    pub(crate) schema: Schema,
    pub(crate) sha256: String,
}

impl DecisionTable {
    /// Parses and validates a table. `file` names it in errors (e.g.
    /// `guides/washing-machine/triage.toml`); `context` is the pack beside it.
    pub fn parse(file: &str, text: &str, context: &TableContext) -> Result<Self, TableErrors> {
        if text.len() > limits::TABLE_BYTES {
            return Err(TableErrors(vec![TableError::TooLarge {
                file: file.to_owned(),
                size: text.len(),
                limit: limits::TABLE_BYTES,
            }]));
        }
        let raw = parse_raw(file, text)?;
        let mut checker = Checker {
            file,
            errors: Vec::new(),
            schema: Schema::new(context),
        };
        let table = checker.table(raw, context, text);
        if checker.errors.is_empty() {
            Ok(table)
        } else {
            let mut errors = checker.errors;
            if errors.len() > limits::ERRORS {
                let more = errors.len() - limits::ERRORS;
                errors.truncate(limits::ERRORS);
                errors.push(TableError::Invalid {
                    at: checker_at(file, None, None),
                    problem: format!("and {more} more problems"),
                });
            }
            Err(TableErrors(errors))
        }
    }

    /// The pack the table belongs to.
    pub fn pack(&self) -> &str {
        &self.pack
    }

    /// The table's version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The file name given to [`DecisionTable::parse`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// How matching rules decide.
    pub fn hit_policy(&self) -> HitPolicy {
        self.hit_policy
    }

    /// For `collect`: outcomes from most to least decisive. Empty for `first`.
    pub fn precedence(&self) -> &[Outcome] {
        &self.precedence
    }

    /// The words findings may use.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// What applies when no rule matches.
    pub fn default_output(&self) -> &RuleOutput {
        &self.default
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The pack the table was checked against.
    pub fn context(&self) -> &TableContext {
        &self.context
    }

    /// SHA-256 (hex) of the table's text.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

// ---- Raw TOML shape -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    pack: String,
    version: u32,
    hit_policy: String,
    #[serde(default)]
    precedence: Option<Vec<String>>,
    #[serde(default)]
    vocabulary: RawVocabulary,
    default: RawOutput,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVocabulary {
    #[serde(default)]
    damage_areas: Vec<String>,
    #[serde(default)]
    symptoms: Vec<String>,
    #[serde(default)]
    remote_fixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    outcome: String,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    parts: Vec<String>,
    #[serde(default)]
    priority: Option<String>,
    confidence: f64,
    #[serde(default)]
    reasons: Vec<String>,
}

// `flatten` cannot be combined with `deny_unknown_fields`, so a rule repeats the output keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    description: String,
    when: Vec<RawCondition>,
    outcome: String,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    parts: Vec<String>,
    #[serde(default)]
    priority: Option<String>,
    confidence: f64,
    #[serde(default)]
    reasons: Vec<String>,
}

impl RawRule {
    fn output(self) -> (String, String, Vec<RawCondition>, RawOutput) {
        let output = RawOutput {
            outcome: self.outcome,
            skills: self.skills,
            parts: self.parts,
            priority: self.priority,
            confidence: self.confidence,
            reasons: self.reasons,
        };
        (self.id, self.description, self.when, output)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    field: String,
    #[serde(default)]
    eq: Option<toml::Value>,
    #[serde(default)]
    ne: Option<toml::Value>,
    #[serde(default, rename = "in")]
    in_: Option<Vec<String>>,
    #[serde(default)]
    not_in: Option<Vec<String>>,
    #[serde(default)]
    any_of: Option<Vec<String>>,
    #[serde(default)]
    all_of: Option<Vec<String>>,
    #[serde(default)]
    none_of: Option<Vec<String>>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    present: Option<bool>,
}

fn checker_at(file: &str, rule: Option<&str>, field: Option<String>) -> Location {
    Location {
        file: file.to_owned(),
        rule: rule.map(str::to_owned),
        field,
    }
}

/// Parses the TOML; a schema error names the rule (by id when readable) and the field path.
fn parse_raw(file: &str, text: &str) -> Result<RawTable, TableErrors> {
    let tidy = |error: &toml::de::Error| error.to_string().trim_end().replace('\n', "\n    ");
    let deserializer = toml::Deserializer::parse(text).map_err(|error| {
        TableErrors(vec![TableError::Syntax {
            at: checker_at(file, None, None),
            message: tidy(&error),
        }])
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = tidy(error.inner());
        let mut at = checker_at(file, None, None);
        // `rules[3].when[0].any_of` → rule #4 (by id), field `when[0].any_of`.
        if let Some((index, inner)) = path
            .strip_prefix("rules[")
            .and_then(|rest| rest.split_once(']'))
        {
            let index: usize = index.parse().unwrap_or_default();
            at.rule = Some(rule_name(text, index));
            let inner = inner.trim_start_matches('.');
            if !inner.is_empty() {
                at.field = Some(inner.to_owned());
            }
        } else if !path.is_empty() && path != "." {
            at.field = Some(path);
        }
        TableErrors(vec![TableError::Syntax { at, message }])
    })
}

/// The id of rule `index` read leniently from raw TOML, or `#N` when it has none.
fn rule_name(text: &str, index: usize) -> String {
    toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|table| {
            let rules = table.get("rules")?.as_array()?;
            Some(rules.get(index)?.get("id")?.as_str()?.to_owned())
        })
        .filter(|id| is_id(id))
        .unwrap_or_else(|| format!("#{}", index + 1))
}

/// Ids in tables: lowercase ASCII letters, digits and `_`, starting with a letter.
fn is_id(id: &str) -> bool {
    id.len() <= limits::ID_CHARS
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn abridged(values: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    const SHOWN: usize = 12;
    let values: Vec<String> = values.into_iter().map(|v| v.as_ref().to_owned()).collect();
    let mut text = values
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > SHOWN {
        text.push_str(&format!(", … ({} in all)", values.len()));
    }
    if text.is_empty() {
        text = "(none: the list is empty)".to_owned();
    }
    text
}

// ---- Validation -----------------------------------------------------------------------------

struct Checker<'f> {
    file: &'f str,
    errors: Vec<TableError>,
    schema: Schema,
}

impl Checker<'_> {
    fn at(&self, rule: Option<&str>, field: impl Into<String>) -> Location {
        checker_at(self.file, rule, Some(field.into()))
    }

    fn table(&mut self, raw: RawTable, context: &TableContext, text: &str) -> DecisionTable {
        if raw.pack != context.pack {
            self.errors.push(TableError::Invalid {
                at: self.at(None, "pack"),
                problem: format!(
                    "the table names pack {:?} but sits beside pack {:?}",
                    raw.pack, context.pack
                ),
            });
        }
        if raw.version == 0 {
            self.errors.push(TableError::Invalid {
                at: self.at(None, "version"),
                problem: "must be 1 or more".into(),
            });
        }
        let hit_policy = match raw.hit_policy.as_str() {
            "first" => HitPolicy::First,
            "collect" => HitPolicy::Collect,
            other => {
                self.errors.push(TableError::UnknownValue {
                    at: self.at(None, "hit_policy"),
                    what: "hit policy".into(),
                    value: other.to_owned(),
                    allowed: "first, collect".into(),
                });
                HitPolicy::First
            }
        };
        let precedence = self.precedence(hit_policy, raw.precedence);
        let vocabulary = Vocabulary {
            damage_areas: self
                .vocabulary_list("vocabulary.damage_areas", raw.vocabulary.damage_areas),
            symptoms: self.vocabulary_list("vocabulary.symptoms", raw.vocabulary.symptoms),
            remote_fixes: self
                .vocabulary_list("vocabulary.remote_fixes", raw.vocabulary.remote_fixes),
        };
        let default = self.output(None, "default.", raw.default);
        if raw.rules.len() > limits::RULES {
            self.errors.push(TableError::Limit {
                at: self.at(None, "rules"),
                what: "rules".into(),
                count: raw.rules.len(),
                limit: limits::RULES,
            });
        }
        let mut seen = BTreeSet::new();
        let mut rules = Vec::new();
        for (index, raw_rule) in raw.rules.into_iter().take(limits::RULES).enumerate() {
            let (id, description, when, output) = raw_rule.output();
            let name = if is_id(&id) {
                id.clone()
            } else {
                let name = format!("#{}", index + 1);
                self.errors.push(TableError::Invalid {
                    at: self.at(Some(&name), "id"),
                    problem: format!(
                        "{id:?} is not an id: lowercase letters, digits and '_', starting with a letter, at most {} characters",
                        limits::ID_CHARS
                    ),
                });
                name
            };
            if !seen.insert(id.clone()) {
                self.errors.push(TableError::Duplicate {
                    at: self.at(Some(&name), "id"),
                    what: "rule id".into(),
                    id: id.clone(),
                });
            }
            let chars = description.chars().count();
            if description.trim().is_empty() || chars > limits::DESCRIPTION_CHARS {
                self.errors.push(TableError::Invalid {
                    at: self.at(Some(&name), "description"),
                    problem: format!(
                        "must say in words what the rule is for, in at most {} characters (has {chars})",
                        limits::DESCRIPTION_CHARS
                    ),
                });
            }
            let conditions = self.conditions(&name, when, &vocabulary);
            let output = self.output(Some(&name), "", output);
            rules.push(Rule {
                id,
                description,
                conditions,
                output,
            });
        }
        DecisionTable {
            file: self.file.to_owned(),
            pack: raw.pack,
            version: raw.version,
            hit_policy,
            precedence,
            vocabulary,
            default,
            rules,
            context: context.clone(),
            schema: self.schema.clone(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        }
    }

    fn precedence(&mut self, policy: HitPolicy, raw: Option<Vec<String>>) -> Vec<Outcome> {
        let at = self.at(None, "precedence");
        match (policy, raw) {
            (HitPolicy::First, None) => Vec::new(),
            (HitPolicy::First, Some(_)) => {
                self.errors.push(TableError::Invalid {
                    at,
                    problem: "only a `collect` table ranks outcomes; with `first` the first matching rule decides".into(),
                });
                Vec::new()
            }
            (HitPolicy::Collect, None) => {
                self.errors.push(TableError::Invalid {
                    at,
                    problem: "a `collect` table must rank every outcome, most decisive first"
                        .into(),
                });
                Vec::new()
            }
            (HitPolicy::Collect, Some(names)) => {
                let mut outcomes = Vec::new();
                for name in names {
                    match name.parse::<Outcome>() {
                        Ok(outcome) if outcomes.contains(&outcome) => {
                            self.errors.push(TableError::Duplicate {
                                at: at.clone(),
                                what: "outcome".into(),
                                id: name,
                            })
                        }
                        Ok(outcome) => outcomes.push(outcome),
                        Err(_) => self.errors.push(unknown_outcome(at.clone(), name)),
                    }
                }
                let absent: Vec<&str> = Outcome::ALL
                    .iter()
                    .filter(|o| !outcomes.contains(o))
                    .map(|o| o.as_str())
                    .collect();
                if !absent.is_empty() {
                    self.errors.push(TableError::Invalid {
                        at,
                        problem: format!("must rank every outcome; missing {}", absent.join(", ")),
                    });
                }
                outcomes
            }
        }
    }

    fn vocabulary_list(&mut self, field: &str, values: Vec<String>) -> Vec<String> {
        self.id_list(None, field, values, limits::VOCABULARY, "vocabulary entry")
    }

    /// Checks a list of ids: well-formed, no duplicates, not too many.
    fn id_list(
        &mut self,
        rule: Option<&str>,
        field: &str,
        values: Vec<String>,
        limit: usize,
        what: &str,
    ) -> Vec<String> {
        if values.len() > limit {
            self.errors.push(TableError::Limit {
                at: self.at(rule, field),
                what: format!("entries in {field}"),
                count: values.len(),
                limit,
            });
        }
        let mut seen = BTreeSet::new();
        for value in &values {
            if !is_id(value) {
                self.errors.push(TableError::Invalid {
                    at: self.at(rule, field),
                    problem: format!(
                        "{value:?} is not a {what}: lowercase letters, digits and '_', starting with a letter"
                    ),
                });
            } else if !seen.insert(value) {
                self.errors.push(TableError::Duplicate {
                    at: self.at(rule, field),
                    what: what.to_owned(),
                    id: value.clone(),
                });
            }
        }
        values
    }

    fn output(&mut self, rule: Option<&str>, prefix: &str, raw: RawOutput) -> RuleOutput {
        let field = |name: &str| format!("{prefix}{name}");
        let outcome = raw.outcome.parse::<Outcome>().unwrap_or_else(|_| {
            self.errors.push(unknown_outcome(
                self.at(rule, field("outcome")),
                raw.outcome.clone(),
            ));
            Outcome::MoreInfoNeeded
        });
        let priority = match raw.priority.as_deref() {
            None => Priority::Normal,
            Some(name) => Priority::ALL
                .into_iter()
                .find(|p| p.as_str() == name)
                .unwrap_or_else(|| {
                    self.errors.push(TableError::UnknownValue {
                        at: self.at(rule, field("priority")),
                        what: "priority".into(),
                        value: name.to_owned(),
                        allowed: abridged(Priority::ALL.map(Priority::as_str)),
                    });
                    Priority::Normal
                }),
        };
        if !(0.0..=1.0).contains(&raw.confidence) {
            self.errors.push(TableError::Invalid {
                at: self.at(rule, field("confidence")),
                problem: format!("{} is not between 0 and 1", raw.confidence),
            });
        }
        let skills = self.id_list(rule, &field("skills"), raw.skills, limits::VALUES, "skill");
        let parts = self.id_list(rule, &field("parts"), raw.parts, limits::VALUES, "part");
        let reasons = self.id_list(
            rule,
            &field("reasons"),
            raw.reasons,
            limits::VALUES,
            "reason code",
        );
        if reasons.is_empty() {
            self.errors.push(TableError::Invalid {
                at: self.at(rule, field("reasons")),
                problem: "give at least one reason code, so the decision explains itself".into(),
            });
        }
        if outcome.is_truck_roll() && skills.is_empty() {
            self.errors.push(TableError::Invalid {
                at: self.at(rule, field("skills")),
                problem: format!("a {outcome} must say which skills the visit needs"),
            });
        }
        match (outcome == Outcome::TruckRollWithParts, parts.is_empty()) {
            (true, true) => self.errors.push(TableError::Invalid {
                at: self.at(rule, field("parts")),
                problem: "truck_roll_with_parts must name the likely parts".into(),
            }),
            (false, false) => self.errors.push(TableError::Invalid {
                at: self.at(rule, field("parts")),
                problem: format!("only truck_roll_with_parts brings parts, not {outcome}"),
            }),
            _ => {}
        }
        RuleOutput {
            outcome,
            skills,
            parts,
            priority,
            confidence: raw.confidence,
            reasons,
        }
    }

    fn conditions(
        &mut self,
        rule: &str,
        raw: Vec<RawCondition>,
        vocabulary: &Vocabulary,
    ) -> Vec<Condition> {
        if raw.is_empty() {
            self.errors.push(TableError::Invalid {
                at: self.at(Some(rule), "when"),
                problem:
                    "a rule needs at least one condition; use `default` for what applies otherwise"
                        .into(),
            });
        }
        if raw.len() > limits::CONDITIONS {
            self.errors.push(TableError::Limit {
                at: self.at(Some(rule), "when"),
                what: "conditions".into(),
                count: raw.len(),
                limit: limits::CONDITIONS,
            });
        }
        raw.into_iter()
            .take(limits::CONDITIONS)
            .enumerate()
            .filter_map(|(index, condition)| {
                self.condition(rule, &format!("when[{index}]"), condition, vocabulary)
            })
            .collect()
    }

    fn condition(
        &mut self,
        rule: &str,
        path: &str,
        raw: RawCondition,
        vocabulary: &Vocabulary,
    ) -> Option<Condition> {
        let Some(spec) = self.schema.get(&raw.field).copied() else {
            let hint = self
                .schema
                .nearest(&raw.field)
                .map(|near| format!("; did you mean `{near}`?"))
                .unwrap_or_default();
            self.errors.push(TableError::UnknownInput {
                at: self.at(Some(rule), format!("{path}.field")),
                name: raw.field,
                hint,
            });
            return None;
        };
        let field = raw.field.clone();
        let mut tests: Vec<(&'static str, Test)> = Vec::new();
        let mut problems: Vec<TableError> = Vec::new();
        let bad = |op: &str, problem: String| TableError::BadOperator {
            at: self.at(Some(rule), format!("{path}.{op}")),
            problem,
        };
        let allowed_ops = match spec.kind {
            Kind::Text => "eq, ne, in, not_in, present",
            Kind::Number => "eq, ne, min, max, present",
            Kind::Flag => "eq, present",
            Kind::Set => "any_of, all_of, none_of, present",
        };
        let wrong_kind = |op: &str| {
            bad(
                op,
                format!(
                    "`{op}` does not apply to `{field}`, a {} input; use {allowed_ops}",
                    spec.kind.as_str()
                ),
            )
        };
        // Literals for eq/ne.
        for (op, value) in [("eq", raw.eq), ("ne", raw.ne)] {
            let Some(value) = value else { continue };
            if spec.kind == Kind::Set || (op == "ne" && spec.kind == Kind::Flag) {
                problems.push(wrong_kind(op));
                continue;
            }
            let literal = match (spec.kind, value) {
                (Kind::Text, toml::Value::String(text)) => {
                    match self.domain_value(spec.domain, &text, vocabulary) {
                        Ok(text) => Literal::Text(text),
                        Err(error) => {
                            problems
                                .push(error_at(error, self.at(Some(rule), format!("{path}.{op}"))));
                            continue;
                        }
                    }
                }
                (Kind::Number, toml::Value::Integer(n)) => Literal::Number(n as f64),
                (Kind::Number, toml::Value::Float(n)) if n.is_finite() => Literal::Number(n),
                (Kind::Flag, toml::Value::Boolean(flag)) => Literal::Flag(flag),
                (kind, value) => {
                    problems.push(bad(
                        op,
                        format!(
                            "`{field}` is a {} input; `{op}` cannot compare it with {value}",
                            kind.as_str()
                        ),
                    ));
                    continue;
                }
            };
            tests.push((
                op,
                if op == "eq" {
                    Test::Eq(literal)
                } else {
                    Test::Ne(literal)
                },
            ));
        }
        let lists = [
            ("in", raw.in_, Kind::Text),
            ("not_in", raw.not_in, Kind::Text),
            ("any_of", raw.any_of, Kind::Set),
            ("all_of", raw.all_of, Kind::Set),
            ("none_of", raw.none_of, Kind::Set),
        ];
        for (op, values, kind) in lists {
            let Some(values) = values else { continue };
            if spec.kind != kind {
                problems.push(wrong_kind(op));
                continue;
            }
            let at = self.at(Some(rule), format!("{path}.{op}"));
            if values.is_empty() || values.len() > limits::VALUES {
                problems.push(TableError::Invalid {
                    at,
                    problem: format!("needs 1 to {} values, has {}", limits::VALUES, values.len()),
                });
                continue;
            }
            let mut set = BTreeSet::new();
            for value in values {
                match self.domain_value(spec.domain, &value, vocabulary) {
                    Ok(value) => {
                        if !set.insert(value.clone()) {
                            problems.push(TableError::Duplicate {
                                at: at.clone(),
                                what: "value".into(),
                                id: value,
                            });
                        }
                    }
                    Err(error) => problems.push(error_at(error, at.clone())),
                }
            }
            let test = match op {
                "in" => Test::In(set),
                "not_in" => Test::NotIn(set),
                "any_of" => Test::AnyOf(set),
                "all_of" => Test::AllOf(set),
                _ => Test::NoneOf(set),
            };
            tests.push((op, test));
        }
        if raw.min.is_some() || raw.max.is_some() {
            let op = if raw.min.is_some() { "min" } else { "max" };
            if spec.kind != Kind::Number {
                problems.push(wrong_kind(op));
            } else if raw.min.is_some_and(|n| !n.is_finite())
                || raw.max.is_some_and(|n| !n.is_finite())
            {
                problems.push(bad(op, "min and max must be finite numbers".into()));
            } else if let (Some(min), Some(max)) = (raw.min, raw.max)
                && min > max
            {
                problems.push(bad("min", format!("min {min} is above max {max}")));
            } else {
                tests.push((
                    op,
                    Test::Range {
                        min: raw.min,
                        max: raw.max,
                    },
                ));
            }
        }
        if let Some(present) = raw.present {
            tests.push(("present", Test::Present(present)));
        }
        let valid = problems.is_empty();
        self.errors.extend(problems);
        match tests.len() {
            1 if valid => Some(Condition {
                field,
                source: spec.source,
                test: tests.pop().map(|(_, test)| test)?,
            }),
            0 if valid => {
                self.errors.push(TableError::BadOperator {
                    at: self.at(Some(rule), path.to_owned()),
                    problem: format!("no test for `{field}`; add one of {allowed_ops}"),
                });
                None
            }
            n if n > 1 => {
                let ops: Vec<&str> = tests.iter().map(|(op, _)| *op).collect();
                self.errors.push(TableError::BadOperator {
                    at: self.at(Some(rule), path.to_owned()),
                    problem: format!(
                        "one test per condition, found {} ({}); split it into several conditions",
                        n,
                        ops.join(", ")
                    ),
                });
                None
            }
            _ => None,
        }
    }

    /// Checks (and normalises) one literal against the values an input can take.
    fn domain_value(
        &self,
        domain: Domain,
        value: &str,
        vocabulary: &Vocabulary,
    ) -> Result<String, DomainError> {
        let known = |what: &str, allowed: &[String]| {
            if allowed.iter().any(|a| a == value) {
                Ok(value.to_owned())
            } else {
                Err(DomainError {
                    what: what.to_owned(),
                    value: value.to_owned(),
                    allowed: abridged(allowed),
                })
            }
        };
        match domain {
            Domain::Free => Ok(value.to_owned()),
            Domain::Lower => Ok(value.trim().to_lowercase()),
            Domain::Fixed(names) => {
                let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
                known("value for this input", &names)
            }
            Domain::Steps => {
                let steps: Vec<String> = self.step_ids();
                known("step of this pack", &steps)
            }
            Domain::DamageAreas => known(
                "damage area (add it to vocabulary.damage_areas)",
                &vocabulary.damage_areas,
            ),
            Domain::Symptoms => known(
                "symptom (add it to vocabulary.symptoms)",
                &vocabulary.symptoms,
            ),
            Domain::RemoteFixes => known(
                "remote fix (add it to vocabulary.remote_fixes)",
                &vocabulary.remote_fixes,
            ),
            Domain::ErrorCode => {
                let code = normalise_code(value);
                if is_error_code(&code) {
                    Ok(code)
                } else {
                    Err(DomainError {
                        what: "error code".into(),
                        value: value.to_owned(),
                        allowed: format!(
                            "codes of at most {} letters, digits, '-', ':' or spaces",
                            limits::ERROR_CODE_BYTES
                        ),
                    })
                }
            }
        }
    }

    fn step_ids(&self) -> Vec<String> {
        self.schema.step_ids().to_vec()
    }
}

struct DomainError {
    what: String,
    value: String,
    allowed: String,
}

fn error_at(error: DomainError, at: Location) -> TableError {
    TableError::UnknownValue {
        at,
        what: error.what,
        value: error.value,
        allowed: error.allowed,
    }
}

fn unknown_outcome(at: Location, value: String) -> TableError {
    TableError::UnknownValue {
        at,
        what: "outcome".into(),
        value,
        allowed: abridged(Outcome::ALL.map(Outcome::as_str)),
    }
}
