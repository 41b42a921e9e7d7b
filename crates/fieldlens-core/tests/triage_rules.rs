//! Decision tables on small hand-written examples: what each test means, how hit policies
//! merge, the trace, and the errors broken tables and bad inputs give.

use fieldlens_core::case::CaseKind;
use fieldlens_core::triage::{
    DecisionTable, Findings, Outcome, PhotoStatus, ProductFacts, StepResult, TableError,
    TriageInputs, TriageRecord,
};
use fieldlens_core::{CaseEvent, Priority};
use triage_support::{SMALL_HEADER, small_context};

mod triage_support;

fn table(rules: &str) -> DecisionTable {
    DecisionTable::parse(
        "t.toml",
        &format!("{SMALL_HEADER}{rules}"),
        &small_context(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<TableError> {
    DecisionTable::parse("guides/test-pack/triage.toml", text, &small_context())
        .expect_err("the table should be refused")
        .0
}

fn rule_errors(rules: &str) -> Vec<TableError> {
    errors(&format!("{SMALL_HEADER}{rules}"))
}

fn accepted(photos: u32) -> StepResult {
    StepResult {
        status: PhotoStatus::Accepted,
        photos,
        attempts: photos,
        reasons: vec![],
    }
}

fn inputs() -> TriageInputs {
    TriageInputs {
        case_kind: CaseKind::Appliance,
        product: ProductFacts {
            category: "washing_machine".into(),
            brand: "Bosch".into(),
            model: "WAN28281GB".into(),
            age_months: Some(30),
            under_warranty: true,
        },
        steps: [("front", accepted(1)), ("plate", accepted(1))]
            .into_iter()
            .map(|(id, result)| (id.to_owned(), result))
            .collect(),
        findings: Findings::default(),
    }
}

fn rule(id: &str, when: &str, outcome: &str) -> String {
    let extra = match outcome {
        "truck_roll" => "skills = [\"generalist\"]\n",
        "truck_roll_with_parts" => "skills = [\"generalist\"]\nparts = [\"pump\"]\n",
        _ => "",
    };
    format!(
        "\n[[rules]]\nid = \"{id}\"\ndescription = \"Rule {id}.\"\nwhen = [{when}]\noutcome = \"{outcome}\"\n{extra}confidence = 0.8\nreasons = [\"{id}_reason\"]\n"
    )
}

/// Whether a one-condition rule matches the inputs.
fn holds(condition: &str, inputs: &TriageInputs) -> bool {
    let decision = table(&rule("r", condition, "remote_resolved"))
        .evaluate(inputs)
        .unwrap_or_else(|e| panic!("{e}"));
    decision.fired == ["r"]
}

#[test]
fn each_test_means_what_it_says() {
    let mut with = inputs();
    with.findings.error_codes = vec!["e18".into(), "F21".into()];
    with.findings.symptoms = vec!["leak".into()];
    let cases: &[(&str, bool)] = &[
        (r#"{ field = "product.brand", eq = "BOSCH" }"#, true),
        (r#"{ field = "product.brand", ne = "bosch" }"#, false),
        (r#"{ field = "product.model", eq = "wan28281gb" }"#, false),
        (
            r#"{ field = "product.category", in = ["washing_machine", "dishwasher"] }"#,
            true,
        ),
        (
            r#"{ field = "product.category", not_in = ["dishwasher"] }"#,
            true,
        ),
        (
            r#"{ field = "product.age_months", min = 24, max = 36 }"#,
            true,
        ),
        (r#"{ field = "product.age_months", min = 31 }"#, false),
        (r#"{ field = "product.age_months", max = 30 }"#, true),
        (r#"{ field = "product.age_months", eq = 30 }"#, true),
        (r#"{ field = "product.under_warranty", eq = true }"#, true),
        (
            r#"{ field = "findings.error_codes", any_of = ["E18", "E24"] }"#,
            true,
        ),
        (
            r#"{ field = "findings.error_codes", all_of = ["E18", "f21"] }"#,
            true,
        ),
        (
            r#"{ field = "findings.error_codes", all_of = ["E18", "E24"] }"#,
            false,
        ),
        (
            r#"{ field = "findings.error_codes", none_of = ["E24"] }"#,
            true,
        ),
        (r#"{ field = "findings.symptoms", present = true }"#, true),
        (r#"{ field = "damage.areas", present = false }"#, true),
        (r#"{ field = "damage.max_severity", eq = "none" }"#, true),
        (r#"{ field = "remote_fix.tried", eq = false }"#, true),
        (r#"{ field = "remote_fix.outcome", present = false }"#, true),
        // A missing value passes only `present = false`, even a negated test.
        (
            r#"{ field = "remote_fix.outcome", ne = "resolved" }"#,
            false,
        ),
        (
            r#"{ field = "remote_fix.outcome", not_in = ["resolved"] }"#,
            false,
        ),
        (r#"{ field = "findings.notes", present = true }"#, false),
        (r#"{ field = "capture.complete", eq = true }"#, true),
        (
            r#"{ field = "capture.missing_required", present = false }"#,
            true,
        ),
        (r#"{ field = "step.fault.status", eq = "missing" }"#, true),
        (r#"{ field = "step.front.photos", min = 1 }"#, true),
        (
            r#"{ field = "input.installation.drain.status", eq = "missing" }"#,
            true,
        ),
    ];
    for (condition, expected) in cases {
        assert_eq!(holds(condition, &with), *expected, "{condition}");
    }
    // An unknown age is missing, not zero.
    with.product.age_months = None;
    assert!(!holds(
        r#"{ field = "product.age_months", max = 30 }"#,
        &with
    ));
    assert!(holds(
        r#"{ field = "product.age_months", present = false }"#,
        &with
    ));
}

#[test]
fn photo_inputs_follow_the_steps_that_feed_them() {
    let mut with = inputs();
    with.steps.insert(
        "hose".into(),
        StepResult {
            status: PhotoStatus::Retake,
            photos: 0,
            attempts: 2,
            reasons: vec!["blur".into(), "glare".into()],
        },
    );
    assert!(holds(
        r#"{ field = "input.installation.drain.status", eq = "retake" }"#,
        &with
    ));
    assert!(holds(
        r#"{ field = "step.hose.reasons", all_of = ["glare", "blur"] }"#,
        &with
    ));
    assert!(holds(
        r#"{ field = "capture.rejected_photos", eq = 2 }"#,
        &with
    ));
    with.steps.insert("fault".into(), accepted(3));
    assert!(holds(
        r#"{ field = "input.installation.drain.status", eq = "accepted" }"#,
        &with
    ));
    assert!(holds(
        r#"{ field = "input.installation.drain.photos", eq = 3 }"#,
        &with
    ));
    with.steps.remove("plate");
    assert!(holds(
        r#"{ field = "capture.missing_required", all_of = ["plate"] }"#,
        &with
    ));
    assert!(holds(
        r#"{ field = "capture.complete", eq = false }"#,
        &with
    ));
}

#[test]
fn first_stops_at_the_first_match_and_traces_why() {
    let rules = [
        rule("leaks", r#"{ field = "findings.symptoms", any_of = ["leak"] }, { field = "damage.areas", any_of = ["pump"] }"#, "truck_roll_with_parts"),
        rule("warranty", r#"{ field = "product.under_warranty", eq = true }"#, "truck_roll"),
        rule("young", r#"{ field = "product.age_months", max = 48 }"#, "remote_resolved"),
    ]
    .concat();
    let decision = table(&rules).evaluate(&inputs()).unwrap();
    assert_eq!(decision.outcome, Outcome::TruckRoll);
    assert_eq!(decision.fired, ["warranty"]);
    // The trace shows the rule that failed and at which condition, then the one that fired;
    // nothing after it was evaluated.
    assert_eq!(decision.trace.len(), 2);
    let failed = &decision.trace[0];
    assert!(!failed.matched);
    assert_eq!(failed.conditions.len(), 1);
    assert_eq!(failed.conditions[0].field, "findings.symptoms");
    assert_eq!(failed.conditions[0].test, r#"any_of ["leak"]"#);
    assert_eq!(failed.conditions[0].actual, serde_json::json!([]));
    assert!(decision.trace[1].matched);
    assert_eq!(
        decision.trace[1].conditions[0].actual,
        serde_json::json!(true)
    );
    assert_eq!(decision.reasons, ["warranty_reason"]);
    assert_eq!(decision.table.version, 3);
    assert_eq!(decision.table.sha256.len(), 64);
}

#[test]
fn the_default_applies_when_nothing_matches() {
    let decision = table(&rule(
        "never",
        r#"{ field = "findings.symptoms", any_of = ["smoke"] }"#,
        "truck_roll",
    ))
    .evaluate(&inputs())
    .unwrap();
    assert!(decision.is_default());
    assert_eq!(decision.outcome, Outcome::TruckRoll);
    assert_eq!(decision.reasons, ["default_visit"]);
    assert_eq!(decision.confidence, 0.4);
    assert_eq!(decision.trace.len(), 1);
}

#[test]
fn collect_merges_by_precedence() {
    let header = SMALL_HEADER.replace(
        "hit_policy = \"first\"",
        "hit_policy = \"collect\"\nprecedence = [\"total_loss_review\", \"more_info_needed\", \"truck_roll_with_parts\", \"truck_roll\", \"remote_resolved\"]",
    );
    let urgent = rule(
        "smoke",
        r#"{ field = "findings.symptoms", any_of = ["smoke"] }"#,
        "truck_roll",
    )
    .replace(
        "confidence = 0.8",
        "priority = \"urgent\"\nconfidence = 0.9",
    );
    let rules = [
        rule(
            "seal",
            r#"{ field = "damage.areas", any_of = ["seal"] }"#,
            "truck_roll_with_parts",
        )
        .replace("[\"pump\"]", "[\"door_seal\"]"),
        urgent,
        rule(
            "pump",
            r#"{ field = "damage.areas", any_of = ["pump"] }"#,
            "truck_roll_with_parts",
        )
        .replace("confidence = 0.8", "confidence = 0.6"),
        rule(
            "cosmetic",
            r#"{ field = "damage.max_severity", eq = "minor" }"#,
            "remote_resolved",
        ),
    ]
    .concat();
    let table = DecisionTable::parse("t.toml", &format!("{header}{rules}"), &small_context())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut with = inputs();
    with.findings = serde_json::from_value(serde_json::json!({
        "symptoms": ["smoke"],
        "damage": [{ "area": "seal", "severity": "minor" }, { "area": "pump", "severity": "minor" }],
    }))
    .unwrap();
    let decision = table.evaluate(&with).unwrap();
    assert_eq!(decision.outcome, Outcome::TruckRollWithParts);
    assert_eq!(decision.fired, ["seal", "smoke", "pump", "cosmetic"]);
    assert_eq!(decision.parts, ["door_seal", "pump"]);
    // Priority is the highest of all; confidence the highest of the rules that decided.
    assert_eq!(decision.priority, Priority::Urgent);
    assert_eq!(decision.confidence, 0.8);
    assert_eq!(
        decision.reasons,
        [
            "seal_reason",
            "smoke_reason",
            "pump_reason",
            "cosmetic_reason"
        ]
    );
    assert_eq!(decision.trace.len(), 4);
}

#[test]
fn the_record_round_trips_through_the_triaged_event() {
    let decision = table(&rule(
        "warranty",
        r#"{ field = "product.under_warranty", eq = true }"#,
        "truck_roll",
    ))
    .evaluate(&inputs())
    .unwrap();
    let record = TriageRecord {
        inputs: inputs(),
        decision,
    };
    let event = record.to_event().unwrap();
    let CaseEvent::Triaged { decision, .. } = &event else {
        panic!("not a triaged event: {event:?}");
    };
    assert_eq!(decision, "truck_roll");
    assert_eq!(TriageRecord::from_event(&event).unwrap().unwrap(), record);
    assert!(TriageRecord::from_event(&CaseEvent::Queued { arrival: 1 }).is_none());
}

/// The single error's text, which must name the file, the rule and the field.
fn only_error(errors: Vec<TableError>) -> String {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors[0].to_string()
}

#[test]
fn broken_tables_are_refused_naming_file_rule_and_field() {
    let unknown_input = rule_errors(&rule(
        "r",
        r#"{ field = "step.plat.status", eq = "accepted" }"#,
        "remote_resolved",
    ));
    assert!(matches!(
        unknown_input[..],
        [TableError::UnknownInput { .. }]
    ));
    assert_eq!(
        only_error(unknown_input),
        "guides/test-pack/triage.toml: rule `r`: field `when[0].field`: unknown input `step.plat.status`; did you mean `step.plate.status`?"
    );

    let bad_outcome = rule_errors(&rule(
        "r",
        r#"{ field = "product.under_warranty", eq = true }"#,
        "send_someone",
    ));
    assert!(matches!(bad_outcome[..], [TableError::UnknownValue { .. }]));
    assert!(only_error(bad_outcome).starts_with(
        "guides/test-pack/triage.toml: rule `r`: field `outcome`: \"send_someone\" is not a known outcome"
    ));

    let wrong_type = rule_errors(&rule(
        "r",
        r#"{ field = "product.age_months", any_of = ["12"] }"#,
        "remote_resolved",
    ));
    assert!(matches!(wrong_type[..], [TableError::BadOperator { .. }]));
    assert!(only_error(wrong_type).contains(
        "field `when[0].any_of`: `any_of` does not apply to `product.age_months`, a number input"
    ));

    let unknown_operator = only_error(rule_errors(&rule(
        "r",
        r#"{ field = "product.brand", contains = "bo" }"#,
        "remote_resolved",
    )));
    assert!(
        unknown_operator.contains("rule `r`: field `when[0].contains`"),
        "{unknown_operator}"
    );
    assert!(
        unknown_operator.contains("unknown field `contains`"),
        "{unknown_operator}"
    );

    let two_tests = only_error(rule_errors(&rule(
        "r",
        r#"{ field = "product.brand", eq = "a", ne = "b" }"#,
        "remote_resolved",
    )));
    assert!(
        two_tests.contains("one test per condition, found 2 (eq, ne)"),
        "{two_tests}"
    );

    let no_test = only_error(rule_errors(&rule(
        "r",
        r#"{ field = "product.brand" }"#,
        "remote_resolved",
    )));
    assert!(no_test.contains("no test for `product.brand`"), "{no_test}");

    let duplicate = rule_errors(
        &[
            rule(
                "same",
                r#"{ field = "product.under_warranty", eq = true }"#,
                "remote_resolved",
            ),
            rule(
                "same",
                r#"{ field = "product.under_warranty", eq = false }"#,
                "remote_resolved",
            ),
        ]
        .concat(),
    );
    assert!(matches!(duplicate[..], [TableError::Duplicate { .. }]));
    assert_eq!(
        only_error(duplicate),
        "guides/test-pack/triage.toml: rule `same`: field `id`: duplicate rule id `same`"
    );

    let out_of_vocabulary = only_error(rule_errors(&rule(
        "r",
        r#"{ field = "findings.symptoms", any_of = ["leaks"] }"#,
        "remote_resolved",
    )));
    assert!(
        out_of_vocabulary
            .contains("\"leaks\" is not a known symptom (add it to vocabulary.symptoms)"),
        "{out_of_vocabulary}"
    );

    let bad_status = only_error(rule_errors(&rule(
        "r",
        r#"{ field = "step.front.status", eq = "ok" }"#,
        "remote_resolved",
    )));
    assert!(
        bad_status.contains("expected one of accepted, retake, missing, skipped"),
        "{bad_status}"
    );

    let range = only_error(rule_errors(&rule(
        "r",
        r#"{ field = "product.age_months", min = 40, max = 20 }"#,
        "remote_resolved",
    )));
    assert!(range.contains("min 40 is above max 20"), "{range}");

    let no_parts = only_error(rule_errors(
        &rule(
            "r",
            r#"{ field = "product.under_warranty", eq = true }"#,
            "truck_roll_with_parts",
        )
        .replace("parts = [\"pump\"]\n", ""),
    ));
    assert!(
        no_parts.contains("field `parts`: truck_roll_with_parts must name the likely parts"),
        "{no_parts}"
    );

    let confidence = only_error(rule_errors(
        &rule(
            "r",
            r#"{ field = "product.under_warranty", eq = true }"#,
            "remote_resolved",
        )
        .replace("0.8", "1.5"),
    ));
    assert!(
        confidence.contains("field `confidence`: 1.5 is not between 0 and 1"),
        "{confidence}"
    );
}

#[test]
fn table_level_problems_are_named() {
    let other_pack = only_error(errors(
        &SMALL_HEADER.replace("\"test-pack\"", "\"dishwasher\""),
    ));
    assert!(
        other_pack.contains(
            "field `pack`: the table names pack \"dishwasher\" but sits beside pack \"test-pack\""
        ),
        "{other_pack}"
    );

    let collect = only_error(errors(&SMALL_HEADER.replace("\"first\"", "\"collect\"")));
    assert!(
        collect.contains("field `precedence`: a `collect` table must rank every outcome"),
        "{collect}"
    );

    let policy = errors(&SMALL_HEADER.replace("\"first\"", "\"any\""));
    assert!(matches!(policy[..], [TableError::UnknownValue { .. }]));

    let syntax = only_error(errors("pack = \"test-pack\"\nversion = ["));
    assert!(
        syntax.starts_with("guides/test-pack/triage.toml: TOML parse error at line 2"),
        "{syntax}"
    );

    let many_rules: String = (0..201)
        .map(|i| {
            rule(
                &format!("r{i}"),
                r#"{ field = "product.under_warranty", eq = true }"#,
                "remote_resolved",
            )
        })
        .collect();
    let limit = rule_errors(&many_rules);
    assert!(
        matches!(
            limit[..],
            [TableError::Limit {
                count: 201,
                limit: 200,
                ..
            }]
        ),
        "{limit:?}"
    );

    let huge = format!("{SMALL_HEADER}#{}", "x".repeat(300 * 1024));
    assert!(matches!(errors(&huge)[..], [TableError::TooLarge { .. }]));

    // Several problems at once are all reported: an unknown input, a bad rule id, an
    // unknown outcome and a bad reason code.
    let several = rule_errors(
        &[
            rule("a", r#"{ field = "nope", eq = 1 }"#, "remote_resolved"),
            rule("B", r#"{ field = "product.brand", eq = "x" }"#, "maybe"),
        ]
        .concat(),
    );
    assert_eq!(several.len(), 4, "{several:#?}");
}

#[test]
fn bad_inputs_are_refused_naming_the_field() {
    let table = table(&rule(
        "r",
        r#"{ field = "product.under_warranty", eq = true }"#,
        "remote_resolved",
    ));
    let refuse = |change: &dyn Fn(&mut TriageInputs)| {
        let mut bad = inputs();
        change(&mut bad);
        table
            .evaluate(&bad)
            .expect_err("should be refused")
            .to_string()
    };
    assert!(
        refuse(&|i| i.case_kind = CaseKind::CarDamage)
            .starts_with("case_kind: pack test-pack decides appliance cases")
    );
    assert!(
        refuse(&|i| i.findings.symptoms = vec!["smok".into()])
            .starts_with("findings.symptoms[0]: \"smok\" is not in the symptoms")
    );
    assert!(
        refuse(&|i| i.findings.damage = serde_json::from_str(
            r#"[{"area":"pump","severity":"minor"},{"area":"drum","severity":"minor"}]"#
        )
        .unwrap())
        .starts_with("findings.damage[1].area")
    );
    assert!(
        refuse(&|i| i.findings.error_codes = vec!["E18; rm -rf".into()])
            .starts_with("findings.error_codes[0]")
    );
    assert!(
        refuse(&|i| i.findings.error_codes = vec!["E1".into(); 17])
            .starts_with("findings.error_codes: 17 entries")
    );
    assert!(
        refuse(&|i| i.steps.insert("back".into(), accepted(1)).map_or((), drop))
            .starts_with("steps.back: not a step")
    );
    assert!(
        refuse(&|i| i
            .steps
            .insert(
                "front".into(),
                StepResult {
                    status: PhotoStatus::Accepted,
                    photos: 0,
                    attempts: 1,
                    reasons: vec![]
                }
            )
            .map_or((), drop))
        .starts_with("steps.front.status")
    );
    assert!(
        refuse(&|i| i
            .steps
            .insert(
                "front".into(),
                StepResult {
                    status: PhotoStatus::Retake,
                    photos: 0,
                    attempts: 1,
                    reasons: vec!["blurry".into()]
                }
            )
            .map_or((), drop))
        .starts_with("steps.front.reasons")
    );
    assert!(refuse(&|i| i.findings.notes = "x".repeat(4001)).starts_with("findings.notes"));
    assert!(refuse(&|i| i.product.category = "toaster".into()).starts_with("product.category"));
    assert!(
        refuse(&|i| i.findings.remote_fix =
            Some(serde_json::from_str(r#"{"action":"hit_it","outcome":"resolved"}"#).unwrap()))
        .starts_with("findings.remote_fix.action")
    );
}
