//! Helpers shared by the triage tests: the shipped packs' step lists, the shipped tables, and
//! inputs built from JSON fragments.

#![allow(dead_code)]

use std::path::PathBuf;

use fieldlens_core::case::{CaseKind, Product};
use fieldlens_core::triage::{DecisionTable, ProductFacts, StepInfo, TableContext, TriageInputs};
use serde::Deserialize;
use serde_json::{Value, json};

/// The repository's `guides/` folder.
pub fn guides_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guides")
}

#[derive(Deserialize)]
struct PackHead {
    id: String,
    applies_to: AppliesTo,
    steps: Vec<StepHead>,
}

#[derive(Deserialize)]
struct AppliesTo {
    case_kind: CaseKind,
}

#[derive(Deserialize)]
struct StepHead {
    id: String,
    presence: String,
    feeds: Vec<String>,
}

/// The part of a shipped pack's manifest a table is checked against (the guides crate owns
/// the full loader; core's tests read only these keys).
pub fn pack_context(pack: &str) -> TableContext {
    let path = guides_dir().join(pack).join("pack.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let head: PackHead = toml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    TableContext {
        pack: head.id,
        case_kind: head.applies_to.case_kind,
        steps: head
            .steps
            .into_iter()
            .map(|step| StepInfo {
                id: step.id,
                required: step.presence == "required",
                feeds: step.feeds,
            })
            .collect(),
    }
}

/// A shipped table, parsed against its pack; panics with every problem when invalid.
pub fn load_shipped_table(pack: &str) -> (DecisionTable, TableContext) {
    let context = pack_context(pack);
    let text = std::fs::read_to_string(guides_dir().join(pack).join("triage.toml")).unwrap();
    let name = format!("guides/{pack}/triage.toml");
    let table = DecisionTable::parse(&name, &text, &context).unwrap_or_else(|e| panic!("{e}"));
    (table, context)
}

/// Inputs with every step accepted once, an empty product of the pack's category, no findings.
pub fn skeleton_inputs(context: &TableContext) -> Value {
    let category = match context.case_kind {
        CaseKind::CarDamage => "car".to_owned(),
        CaseKind::Appliance => context.pack.replace('-', "_"),
    };
    let steps: serde_json::Map<String, Value> = context
        .steps
        .iter()
        .map(|step| {
            (
                step.id.clone(),
                json!({ "status": "accepted", "photos": 1, "attempts": 1 }),
            )
        })
        .collect();
    json!({
        "case_kind": context.case_kind,
        "product": {
            "category": category, "brand": "", "model": "", "serial_number": "",
            "age_months": 0, "under_warranty": false
        },
        "steps": steps,
        "findings": {},
    })
}

/// Merges `patch` into `base`: objects key by key, except that each step under `steps` is
/// replaced whole; anything else replaces.
pub fn merge(base: &mut Value, patch: &Value) {
    merge_at(base, patch, false);
}

fn merge_at(base: &mut Value, patch: &Value, replace_children: bool) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                match base.get_mut(key) {
                    Some(slot) if !replace_children => merge_at(slot, value, key == "steps"),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (base, patch) => *base = patch.clone(),
    }
}

/// Reads merged JSON as triage inputs; `product` is given as the case's `Product` (age 0 =
/// unknown), as the hub has it.
pub fn to_inputs(mut json: Value) -> Result<TriageInputs, String> {
    let product: Product =
        serde_json::from_value(json["product"].take()).map_err(|e| format!("product: {e}"))?;
    json["product"] = serde_json::to_value(ProductFacts::from(&product)).unwrap();
    serde_json::from_value(json).map_err(|e| e.to_string())
}

/// A small appliance pack for hand-written tables: two required steps, two optional ones
/// feeding one shared input.
pub fn small_context() -> TableContext {
    let step = |id: &str, required: bool, feeds: &[&str]| StepInfo {
        id: id.into(),
        required,
        feeds: feeds.iter().map(|f| (*f).to_owned()).collect(),
    };
    TableContext {
        pack: "test-pack".into(),
        case_kind: CaseKind::Appliance,
        steps: vec![
            step("front", true, &["appliance_overview"]),
            step("plate", true, &["rating_plate"]),
            step("fault", false, &["fault_area", "installation.drain"]),
            step("hose", false, &["installation.drain"]),
        ],
    }
}

/// The head of a `first` table for [`small_context`], up to its rules.
pub const SMALL_HEADER: &str = r#"
pack = "test-pack"
version = 3
hit_policy = "first"

[vocabulary]
damage_areas = ["pump", "seal", "motor"]
symptoms = ["leak", "noise", "smoke"]
remote_fixes = ["clean_filter", "reset"]

[default]
outcome = "truck_roll"
skills = ["generalist"]
confidence = 0.4
reasons = ["default_visit"]
"#;
