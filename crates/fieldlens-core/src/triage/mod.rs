//! Triage: decision tables that turn photos, findings and product facts into an explained
//! decision — remote fix, truck roll (with parts), total-loss review or more information.
//!
//! Each guide pack has a table beside it (`guides/<pack>/triage.toml`, documented in
//! `guides/TRIAGE.md`). [`DecisionTable::parse`] validates a table against its pack
//! ([`TableContext`]); [`DecisionTable::evaluate`] checks a case's [`TriageInputs`] and returns
//! a [`Decision`] with the rules that fired and a trace of every rule evaluated. Reading the
//! files is left to the caller: nothing here does IO.

mod decision;
mod eval;
mod fields;
mod inputs;
pub mod limits;
mod table;

pub use decision::{
    ConditionTrace, Decision, HitPolicy, Outcome, RuleTrace, TableRef, TriageRecord, UnknownOutcome,
};
pub use inputs::{
    Damage, Findings, FixOutcome, InputError, PhotoStatus, ProductFacts, QUALITY_REASONS,
    RemoteFix, Severity, StepResult, TriageInputs,
};
pub use table::{
    DecisionTable, Location, Rule, RuleOutput, StepInfo, TableContext, TableError, TableErrors,
    Vocabulary,
};
