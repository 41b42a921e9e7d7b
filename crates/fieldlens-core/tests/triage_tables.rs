//! Data-driven tests of the shipped decision tables: every `guides/<pack>/triage.toml` loads
//! against its pack, and every case in `tests/triage_cases/<pack>.toml` gets the expected
//! decision from the expected rules.

mod triage_support;

use fieldlens_core::Priority;
use fieldlens_core::triage::{Decision, Outcome};
use serde::Deserialize;
use triage_support::{guides_dir, load_shipped_table, merge, skeleton_inputs, to_inputs};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    base: serde_json::Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    inputs: serde_json::Value,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    outcome: Outcome,
    fired: Vec<String>,
    skills: Option<Vec<String>>,
    parts: Option<Vec<String>>,
    priority: Option<Priority>,
    confidence: Option<f64>,
    reasons: Option<Vec<String>>,
    missing_steps: Option<Vec<String>>,
}

fn check(pack: &str, case: &Case, decision: &Decision) -> Vec<String> {
    let mut problems = Vec::new();
    let mut compare = |what: &str, want: String, got: String| {
        if want != got {
            problems.push(format!(
                "{pack}: {:?}: {what}: expected {want}, got {got}",
                case.name
            ));
        }
    };
    let expect = &case.expect;
    compare(
        "outcome",
        expect.outcome.to_string(),
        decision.outcome.to_string(),
    );
    compare(
        "fired",
        format!("{:?}", expect.fired),
        format!("{:?}", decision.fired),
    );
    let lists = [
        ("skills", &expect.skills, &decision.skills),
        ("parts", &expect.parts, &decision.parts),
        ("reasons", &expect.reasons, &decision.reasons),
        (
            "missing_steps",
            &expect.missing_steps,
            &decision.missing_steps,
        ),
    ];
    for (what, want, got) in lists {
        if let Some(want) = want {
            compare(what, format!("{want:?}"), format!("{got:?}"));
        }
    }
    if let Some(confidence) = expect.confidence {
        compare(
            "confidence",
            confidence.to_string(),
            decision.confidence.to_string(),
        );
    }
    if let Some(priority) = expect.priority {
        compare(
            "priority",
            format!("{priority:?}"),
            format!("{:?}", decision.priority),
        );
    }
    problems
}

#[test]
fn every_pack_has_a_valid_table_and_cases_that_pass() {
    let mut packs = Vec::new();
    for entry in std::fs::read_dir(guides_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if dir.join("pack.toml").exists() {
            packs.push(dir.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    packs.sort();
    assert!(
        packs.len() >= 5,
        "expected the five shipped packs, found {packs:?}"
    );
    let mut problems = Vec::new();
    let mut cases_run = 0;
    for pack in &packs {
        let (table, context) = load_shipped_table(pack);
        let path = format!(
            "{}/tests/triage_cases/{pack}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{pack} has a table but no cases at {path}: {e}"));
        let file: CaseFile = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(file.cases.len() >= 6, "{path}: too few cases");
        for rule in table.rules() {
            let covered = file
                .cases
                .iter()
                .any(|case| case.expect.fired.contains(&rule.id));
            if !covered {
                problems.push(format!("{pack}: no case fires rule `{}`", rule.id));
            }
        }
        for case in &file.cases {
            let mut json = skeleton_inputs(&context);
            merge(&mut json, &file.base);
            merge(&mut json, &case.inputs);
            let inputs = to_inputs(json).unwrap_or_else(|e| panic!("{pack}: {:?}: {e}", case.name));
            match table.evaluate(&inputs) {
                Ok(decision) => problems.extend(check(pack, case, &decision)),
                Err(error) => problems.push(format!("{pack}: {:?}: {error}", case.name)),
            }
            cases_run += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cases_run >= 40, "only {cases_run} cases ran");
}
