//! Properties of triage: evaluation never panics and keeps the decision's invariants on any
//! input; `first` fires exactly the first rule `collect` finds; a rule matches exactly when
//! each of its conditions does; parsing never panics on damaged tables.

mod triage_support;

use fieldlens_core::case::CaseKind;
use fieldlens_core::triage::{
    Damage, DecisionTable, Findings, FixOutcome, HitPolicy, Outcome, PhotoStatus, ProductFacts,
    RemoteFix, Severity, StepResult, TriageInputs,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use triage_support::{SMALL_HEADER, load_shipped_table, small_context};

const PACKS: [&str; 5] = [
    "air-conditioner",
    "car-claim",
    "dishwasher",
    "refrigerator",
    "washing-machine",
];

/// Conditions the random tables are built from, over `small_context`.
const CONDITIONS: [&str; 16] = [
    r#"{ field = "product.under_warranty", eq = true }"#,
    r#"{ field = "product.under_warranty", eq = false }"#,
    r#"{ field = "product.age_months", min = 24 }"#,
    r#"{ field = "product.age_months", max = 60 }"#,
    r#"{ field = "product.age_months", present = false }"#,
    r#"{ field = "product.brand", eq = "bosch" }"#,
    r#"{ field = "findings.symptoms", any_of = ["leak", "noise"] }"#,
    r#"{ field = "findings.symptoms", none_of = ["smoke"] }"#,
    r#"{ field = "findings.error_codes", all_of = ["E18"] }"#,
    r#"{ field = "damage.areas", any_of = ["pump"] }"#,
    r#"{ field = "damage.max_severity", in = ["moderate", "severe"] }"#,
    r#"{ field = "remote_fix.outcome", eq = "resolved" }"#,
    r#"{ field = "remote_fix.outcome", ne = "resolved" }"#,
    r#"{ field = "capture.missing_required", present = true }"#,
    r#"{ field = "step.fault.status", in = ["accepted", "retake"] }"#,
    r#"{ field = "input.installation.drain.photos", min = 1 }"#,
];

fn step_result() -> impl Strategy<Value = Option<StepResult>> {
    let reasons = subsequence(vec!["blur", "glare", "framing"], 0..=3)
        .prop_map(|r| r.into_iter().map(str::to_owned).collect::<Vec<_>>());
    (0..4u8, 1..4u32, 0..3u32, reasons).prop_map(|(kind, photos, extra, reasons)| match kind {
        0 => None,
        1 => Some(StepResult {
            status: PhotoStatus::Accepted,
            photos,
            attempts: photos + extra,
            reasons: if extra > 0 { reasons } else { vec![] },
        }),
        2 => Some(StepResult {
            status: PhotoStatus::Retake,
            photos: 0,
            attempts: extra + 1,
            reasons,
        }),
        _ => Some(StepResult {
            status: PhotoStatus::Skipped,
            photos: 0,
            attempts: extra,
            reasons: vec![],
        }),
    })
}

/// Inputs valid for `small_context` tables, often matching the pool's conditions.
fn small_inputs() -> impl Strategy<Value = TriageInputs> {
    let severity = select(vec![Severity::Minor, Severity::Moderate, Severity::Severe]);
    let damage = prop::collection::vec((select(vec!["pump", "seal", "motor"]), severity), 0..3);
    let fix = prop::option::of((
        select(vec!["clean_filter", "reset"]),
        select(vec![
            FixOutcome::Resolved,
            FixOutcome::PartlyResolved,
            FixOutcome::NotResolved,
        ]),
    ));
    let steps = prop::collection::vec(step_result(), 4);
    (
        (
            any::<bool>(),
            prop::option::of(0..120u32),
            select(vec!["Bosch", "LG", ""]),
        ),
        subsequence(vec!["leak", "noise", "smoke"], 0..=3),
        subsequence(vec!["e18", "F21"], 0..=2),
        damage,
        fix,
        steps,
    )
        .prop_map(
            |((warranty, age, brand), symptoms, codes, damage, fix, steps)| TriageInputs {
                case_kind: CaseKind::Appliance,
                product: ProductFacts {
                    category: "washing_machine".into(),
                    brand: brand.into(),
                    model: String::new(),
                    age_months: age,
                    under_warranty: warranty,
                },
                steps: ["front", "plate", "fault", "hose"]
                    .into_iter()
                    .zip(steps)
                    .filter_map(|(id, result)| Some((id.to_owned(), result?)))
                    .collect(),
                findings: Findings {
                    damage: damage
                        .into_iter()
                        .map(|(area, severity)| Damage {
                            area: area.into(),
                            severity,
                        })
                        .collect(),
                    error_codes: codes.into_iter().map(str::to_owned).collect(),
                    symptoms: symptoms.into_iter().map(str::to_owned).collect(),
                    remote_fix: fix.map(|(action, outcome)| RemoteFix {
                        action: action.into(),
                        outcome,
                    }),
                    notes: String::new(),
                },
            },
        )
}

fn rules_text(rules: &[Vec<usize>]) -> String {
    rules
        .iter()
        .enumerate()
        .map(|(i, conditions)| {
            let when: Vec<&str> = conditions.iter().map(|&c| CONDITIONS[c]).collect();
            format!(
                "\n[[rules]]\nid = \"r{i}\"\ndescription = \"Rule {i}.\"\nwhen = [{}]\noutcome = \"remote_resolved\"\nconfidence = 0.5\nreasons = [\"r{i}\"]\n",
                when.join(", ")
            )
        })
        .collect()
}

fn parse(head: &str, rules: &str) -> DecisionTable {
    DecisionTable::parse("random.toml", &format!("{head}{rules}"), &small_context())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn collect_header() -> String {
    SMALL_HEADER.replace(
        "hit_policy = \"first\"",
        "hit_policy = \"collect\"\nprecedence = [\"remote_resolved\", \"truck_roll\", \"truck_roll_with_parts\", \"total_loss_review\", \"more_info_needed\"]",
    )
}

/// A word from `valid` nineteen times in twenty, any string otherwise (always, when `valid`
/// is empty).
fn mostly(mut valid: Vec<String>) -> impl Strategy<Value = String> {
    if valid.is_empty() {
        valid.push("\u{7f}".into());
    }
    prop_oneof![19 => select(valid), 1 => ".{0,24}"]
}

/// Inputs for a shipped table, mostly valid but with junk here and there: words outside the
/// vocabulary, unknown steps, counts that do not add up, codes of any shape.
fn wild_inputs(table: &DecisionTable) -> impl Strategy<Value = TriageInputs> + use<> {
    let vocabulary = table.vocabulary().clone();
    let steps: Vec<String> = table.context().steps.iter().map(|s| s.id.clone()).collect();
    let junk_step = (
        select(vec![
            PhotoStatus::Accepted,
            PhotoStatus::Retake,
            PhotoStatus::Skipped,
        ]),
        0..5u32,
        0..5u32,
        prop::collection::vec(".{0,8}", 0..2),
    )
        .prop_map(|(status, photos, attempts, reasons)| {
            Some(StepResult {
                status,
                photos,
                attempts,
                reasons,
            })
        });
    let step = prop_oneof![19 => step_result(), 1 => junk_step];
    let severity = select(vec![Severity::Minor, Severity::Moderate, Severity::Severe]);
    let outcome = select(vec![
        FixOutcome::Resolved,
        FixOutcome::PartlyResolved,
        FixOutcome::NotResolved,
    ]);
    let codes = ["E18", "U4", "OE", "er dH", "5C"]
        .map(str::to_owned)
        .to_vec();
    let kind = table.context().case_kind;
    (
        (
            any::<bool>(),
            prop::option::of(0..1300u32),
            mostly(vec!["Bosch".into(), "LG".into()]),
        ),
        prop::collection::btree_map(mostly(steps), step, 0..12),
        prop::collection::vec((mostly(vocabulary.damage_areas.clone()), severity), 0..6),
        prop::collection::vec(mostly(vocabulary.symptoms.clone()), 0..4),
        prop::collection::vec(mostly(codes), 0..3),
        prop::option::of((mostly(vocabulary.remote_fixes.clone()), outcome)),
    )
        .prop_map(
            move |((warranty, age, brand), steps, damage, symptoms, codes, fix)| TriageInputs {
                case_kind: kind,
                product: ProductFacts {
                    category: if kind == CaseKind::CarDamage {
                        "car"
                    } else {
                        "dishwasher"
                    }
                    .into(),
                    brand,
                    model: String::new(),
                    age_months: age,
                    under_warranty: warranty,
                },
                steps: steps
                    .into_iter()
                    .filter_map(|(id, result)| Some((id, result?)))
                    .collect(),
                findings: Findings {
                    damage: damage
                        .into_iter()
                        .map(|(area, severity)| Damage { area, severity })
                        .collect(),
                    error_codes: codes,
                    symptoms,
                    remote_fix: fix.map(|(action, outcome)| RemoteFix { action, outcome }),
                    notes: String::new(),
                },
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn first_fires_the_first_rule_collect_finds(
        rules in prop::collection::vec(
            prop::collection::btree_set(0..CONDITIONS.len(), 1..4)
                .prop_map(|set| set.into_iter().collect::<Vec<_>>()),
            1..8,
        ),
        inputs in small_inputs(),
    ) {
        let text = rules_text(&rules);
        let first = parse(SMALL_HEADER, &text).evaluate(&inputs).unwrap();
        let collect = parse(&collect_header(), &text).evaluate(&inputs).unwrap();
        prop_assert_eq!(&first.fired, &collect.fired.iter().take(1).cloned().collect::<Vec<_>>());
        // `first` traces every rule up to the one that fired, and stops there.
        let last = first.trace.len() - 1;
        for (i, rule) in first.trace.iter().enumerate() {
            prop_assert_eq!(rule.matched, i == last && !first.fired.is_empty());
        }
        if first.fired.is_empty() {
            prop_assert_eq!(first.trace.len(), rules.len());
        }
        // Each condition on its own, as a one-condition rule of a `collect` table.
        let singles: Vec<Vec<usize>> = (0..CONDITIONS.len()).map(|c| vec![c]).collect();
        let single = parse(&collect_header(), &rules_text(&singles)).evaluate(&inputs).unwrap();
        let holds = |c: usize| single.fired.contains(&format!("r{c}"));
        for (i, conditions) in rules.iter().enumerate() {
            let expected = conditions.iter().all(|&c| holds(c));
            prop_assert_eq!(collect.fired.contains(&format!("r{i}")), expected, "rule r{}", i);
            let trace = &collect.trace[i];
            prop_assert_eq!(trace.matched, expected);
            prop_assert_eq!(trace.conditions.iter().all(|c| c.passed), expected);
        }
    }

    #[test]
    fn shipped_tables_never_panic_and_keep_their_invariants(
        (pack, inputs) in select(PACKS.to_vec()).prop_flat_map(|pack| {
            let (table, _) = load_shipped_table(pack);
            wild_inputs(&table).prop_map(move |inputs| (pack, inputs))
        }),
    ) {
        let (table, _) = load_shipped_table(pack);
        // About a third of these inputs are valid; the rest must be refused without a panic.
        if let Ok(decision) = table.evaluate(&inputs) {
            prop_assert!((0.0..=1.0).contains(&decision.confidence));
            prop_assert_eq!(decision.parts.is_empty(), decision.outcome != Outcome::TruckRollWithParts);
            prop_assert!(!decision.reasons.is_empty());
            if decision.outcome.is_truck_roll() {
                prop_assert!(!decision.skills.is_empty());
            }
            let matched: Vec<&str> = decision.trace.iter().filter(|r| r.matched).map(|r| r.rule.as_str()).collect();
            prop_assert_eq!(matched, decision.fired.iter().map(String::as_str).collect::<Vec<_>>());
            if table.hit_policy() == HitPolicy::First && !decision.fired.is_empty() {
                prop_assert_eq!(decision.fired.len(), 1);
            }
        }
    }

    #[test]
    fn parsing_damaged_tables_never_panics(
        pack in select(PACKS.to_vec()),
        cut in any::<prop::sample::Index>(),
        length in 0..200usize,
        insert in ".{0,12}",
    ) {
        let text = std::fs::read_to_string(
            triage_support::guides_dir().join(pack).join("triage.toml"),
        ).unwrap();
        let at = cut.index(text.len());
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let end = (at + length).min(text.len());
        let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        let damaged = format!("{}{}{}", &text[..at], insert, &text[end..]);
        let context = triage_support::pack_context(pack);
        let _ = DecisionTable::parse("damaged.toml", &damaged, &context);
    }
}
