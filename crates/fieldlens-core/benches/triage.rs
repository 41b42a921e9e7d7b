//! Triage benchmark: one decision from the shipped car-claim table (`collect`, every rule
//! evaluated) and washing-machine table (`first`), each against the cost of serialising the
//! resulting record for the case log — work the hub does for every decision anyway. Also
//! loading a table against parsing its TOML alone.

use std::hint::black_box;

use criterion::Criterion;
use fieldlens_core::triage::{DecisionTable, TriageInputs, TriageRecord};

#[path = "../tests/triage_support/mod.rs"]
mod triage_support;

fn inputs(pack: &str, patch: serde_json::Value) -> TriageInputs {
    let (_, context) = triage_support::load_shipped_table(pack);
    let mut json = triage_support::skeleton_inputs(&context);
    triage_support::merge(&mut json, &patch);
    triage_support::to_inputs(json).unwrap()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let cases = [
        (
            "car-claim",
            serde_json::json!({ "findings": {
                "symptoms": ["not_drivable"],
                "damage": [
                    { "area": "front_bumper", "severity": "severe" },
                    { "area": "headlamp_right", "severity": "moderate" },
                    { "area": "hood", "severity": "moderate" },
                    { "area": "radiator", "severity": "moderate" }
                ]
            }}),
        ),
        (
            "washing-machine",
            serde_json::json!({ "findings": {
                "symptoms": ["leak"],
                "damage": [{ "area": "drain_pump", "severity": "moderate" }]
            }}),
        ),
    ];
    for (pack, patch) in cases {
        let (table, _) = triage_support::load_shipped_table(pack);
        let inputs = inputs(pack, patch);
        let decision = table.evaluate(&inputs).unwrap();
        let record = TriageRecord {
            inputs: inputs.clone(),
            decision,
        };
        let mut group = criterion.benchmark_group(format!("triage/{pack}"));
        group.bench_function("evaluate", |b| {
            b.iter(|| table.evaluate(black_box(&inputs)).unwrap())
        });
        group.bench_function("baseline: serialise the record for the log", |b| {
            b.iter(|| serde_json::to_vec(black_box(&record)).unwrap())
        });
        group.finish();
    }
    let text = std::fs::read_to_string(triage_support::guides_dir().join("car-claim/triage.toml"))
        .unwrap();
    let context = triage_support::pack_context("car-claim");
    let mut group = criterion.benchmark_group("triage/load car-claim");
    group.bench_function("parse and validate", |b| {
        b.iter(|| DecisionTable::parse("triage.toml", black_box(&text), &context).unwrap())
    });
    group.bench_function("baseline: parse the TOML only", |b| {
        b.iter(|| toml::from_str::<toml::Table>(black_box(&text)).unwrap())
    });
    group.finish();
    criterion.final_summary();
}
