//! Evaluating a table: checking the inputs, matching rules under the hit policy, merging
//! what they propose into one decision, and tracing every rule evaluated.

use super::decision::{ConditionTrace, Decision, HitPolicy, Outcome, RuleTrace, TableRef};
use super::fields::{Facts, PRODUCT_CATEGORIES};
use super::inputs::{InputError, PhotoStatus, QUALITY_REASONS, TriageInputs, is_error_code};
use super::limits;
use super::table::{DecisionTable, Rule, RuleOutput};
use crate::intake::{self, check_text};

impl DecisionTable {
    /// Checks inputs against the table's pack and vocabulary and the limits in
    /// [`limits`]; the error names the offending field.
    pub fn check_inputs(&self, inputs: &TriageInputs) -> Result<(), InputError> {
        let context = &self.context;
        if inputs.case_kind != context.case_kind {
            return Err(InputError::new(
                "case_kind",
                format!(
                    "pack {} decides {} cases, not {}",
                    self.pack,
                    context.case_kind.as_str(),
                    inputs.case_kind.as_str()
                ),
            ));
        }
        let product = &inputs.product;
        if !PRODUCT_CATEGORIES.contains(&product.category.as_str()) {
            return Err(InputError::new(
                "product.category",
                format!(
                    "{:?} is not a category; expected one of {}",
                    product.category,
                    PRODUCT_CATEGORIES.join(", ")
                ),
            ));
        }
        for (field, value) in [
            ("product.brand", &product.brand),
            ("product.model", &product.model),
        ] {
            check_text(field, value, intake::limits::PRODUCT_TEXT, false)
                .map_err(|error| InputError::new(error.field, error.problem))?;
        }
        if product
            .age_months
            .is_some_and(|age| age > intake::limits::AGE_MONTHS)
        {
            return Err(InputError::new(
                "product.age_months",
                format!("is above the limit of {}", intake::limits::AGE_MONTHS),
            ));
        }
        for (step, result) in &inputs.steps {
            let field = |name: &str| format!("steps.{step}.{name}");
            if !context.steps.iter().any(|known| &known.id == step) {
                return Err(InputError::new(
                    format!("steps.{step}"),
                    format!("not a step of pack {}", self.pack),
                ));
            }
            if result.photos > limits::STEP_PHOTOS || result.attempts > limits::STEP_PHOTOS {
                return Err(InputError::new(
                    field("attempts"),
                    format!("photo counts are limited to {}", limits::STEP_PHOTOS),
                ));
            }
            if result.photos > result.attempts {
                return Err(InputError::new(
                    field("photos"),
                    format!(
                        "{} accepted photos but only {} taken",
                        result.photos, result.attempts
                    ),
                ));
            }
            if (result.status == PhotoStatus::Accepted) != (result.photos > 0) {
                return Err(InputError::new(
                    field("status"),
                    format!(
                        "status {} does not fit {} accepted photos",
                        result.status.as_str(),
                        result.photos
                    ),
                ));
            }
            if result.reasons.len() > QUALITY_REASONS.len() {
                return Err(InputError::new(field("reasons"), "too many reasons"));
            }
            if let Some(reason) = result
                .reasons
                .iter()
                .find(|r| !QUALITY_REASONS.contains(&r.as_str()))
            {
                return Err(InputError::new(
                    field("reasons"),
                    format!("{reason:?} is not a quality reason code"),
                ));
            }
        }
        let findings = &inputs.findings;
        let vocabulary = &self.vocabulary;
        let in_vocabulary = |field: String, value: &str, list: &[String], name: &str| {
            if list.iter().any(|known| known == value) {
                Ok(())
            } else {
                Err(InputError::new(
                    field,
                    format!(
                        "{value:?} is not in the {name} of the {} table{}",
                        self.pack,
                        if list.is_empty() {
                            String::from(" (it has none)")
                        } else {
                            format!(": {}", list.join(", "))
                        }
                    ),
                ))
            }
        };
        count_limit("findings.damage", findings.damage.len(), limits::DAMAGE)?;
        for (i, damage) in findings.damage.iter().enumerate() {
            in_vocabulary(
                format!("findings.damage[{i}].area"),
                &damage.area,
                &vocabulary.damage_areas,
                "damage areas",
            )?;
        }
        count_limit(
            "findings.error_codes",
            findings.error_codes.len(),
            limits::ERROR_CODES,
        )?;
        for (i, code) in findings.error_codes.iter().enumerate() {
            if !is_error_code(code.trim()) {
                return Err(InputError::new(
                    format!("findings.error_codes[{i}]"),
                    format!(
                        "{code:?} is not an error code (at most {} letters, digits, '-', ':' or spaces)",
                        limits::ERROR_CODE_BYTES
                    ),
                ));
            }
        }
        count_limit(
            "findings.symptoms",
            findings.symptoms.len(),
            limits::SYMPTOMS,
        )?;
        for (i, symptom) in findings.symptoms.iter().enumerate() {
            in_vocabulary(
                format!("findings.symptoms[{i}]"),
                symptom,
                &vocabulary.symptoms,
                "symptoms",
            )?;
        }
        if let Some(fix) = &findings.remote_fix {
            in_vocabulary(
                "findings.remote_fix.action".into(),
                &fix.action,
                &vocabulary.remote_fixes,
                "remote fixes",
            )?;
        }
        check_text(
            "findings.notes",
            &findings.notes,
            limits::NOTES_CHARS,
            false,
        )
        .map_err(|error| InputError::new(error.field, error.problem))
    }

    /// Decides a case: checks the inputs, evaluates the rules under the table's hit policy
    /// and explains the result. Never panics; bad inputs give an error naming the field.
    pub fn evaluate(&self, inputs: &TriageInputs) -> Result<Decision, InputError> {
        self.check_inputs(inputs)?;
        let facts = Facts::new(&self.context, &self.schema, inputs);
        let mut trace = Vec::new();
        let mut fired: Vec<&Rule> = Vec::new();
        for rule in &self.rules {
            let (matched, conditions) = check_rule(rule, &facts);
            trace.push(RuleTrace {
                rule: rule.id.clone(),
                description: rule.description.clone(),
                outcome: rule.output.outcome,
                matched,
                conditions,
            });
            if matched {
                fired.push(rule);
                if self.hit_policy == HitPolicy::First {
                    break;
                }
            }
        }
        let outputs: Vec<&RuleOutput> = if fired.is_empty() {
            vec![&self.default]
        } else {
            fired.iter().map(|rule| &rule.output).collect()
        };
        // Under `first` there is one output; under `collect` the precedence picks the outcome
        // and the rules proposing it give skills, parts and confidence.
        let outcome = self
            .precedence
            .iter()
            .copied()
            .find(|outcome| outputs.iter().any(|o| o.outcome == *outcome))
            .unwrap_or(outputs[0].outcome);
        let decisive = || outputs.iter().filter(|o| o.outcome == outcome);
        // A visit with parts is still a visit: it needs the skills plain truck-roll rules ask for.
        let visit = |o: &&&RuleOutput| {
            o.outcome == outcome
                || (outcome == Outcome::TruckRollWithParts && o.outcome == Outcome::TruckRoll)
        };
        Ok(Decision {
            outcome,
            skills: union(outputs.iter().filter(visit).map(|o| &o.skills)),
            parts: union(decisive().map(|o| &o.parts)),
            priority: outputs.iter().map(|o| o.priority).max().unwrap_or_default(),
            confidence: decisive().map(|o| o.confidence).fold(0.0, f64::max),
            reasons: union(outputs.iter().map(|o| &o.reasons)),
            missing_steps: facts.missing_steps.clone(),
            fired: fired.iter().map(|rule| rule.id.clone()).collect(),
            trace,
            table: TableRef {
                pack: self.pack.clone(),
                version: self.version,
                sha256: self.sha256.clone(),
                hit_policy: self.hit_policy,
            },
        })
    }
}

fn count_limit(field: &str, count: usize, limit: usize) -> Result<(), InputError> {
    if count > limit {
        return Err(InputError::new(
            field,
            format!("{count} entries, more than the limit of {limit}"),
        ));
    }
    Ok(())
}

/// Evaluates a rule's conditions in order, stopping at the first that fails.
fn check_rule(rule: &Rule, facts: &Facts<'_>) -> (bool, Vec<ConditionTrace>) {
    let mut traces = Vec::with_capacity(rule.conditions.len());
    for condition in &rule.conditions {
        let actual = facts.value(condition.source);
        let passed = condition.holds(actual);
        traces.push(ConditionTrace {
            field: condition.field.clone(),
            test: condition.describe(),
            actual: actual.to_json(),
            passed,
        });
        if !passed {
            return (false, traces);
        }
    }
    (true, traces)
}

/// The lists joined in order, each value once.
fn union<'a>(lists: impl Iterator<Item = &'a Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in lists.flatten() {
        if !out.contains(value) {
            out.push(value.clone());
        }
    }
    out
}
