//! `fieldlens verify`: exit 0 for an intact bundle, 1 naming the tampered items, 2 for a file
//! that is not a bundle — run as the real binary.

use std::io::{Cursor, Read, Write};
use std::process::Command;

use fieldlens_core::case::{CaseKind, Contact, Product};
use fieldlens_core::intake::NewCase;
use fieldlens_core::{Actor, CaseEvent, CaseId, Priority};
use fieldlens_evidence::{CaseEvidence, export, render_report};

fn bundle() -> Vec<u8> {
    let new = NewCase {
        case_kind: CaseKind::Appliance,
        product: Product {
            category: "dishwasher".into(),
            brand: "Bosch".into(),
            model: "SMS4HVI33E".into(),
            serial_number: String::new(),
            age_months: 20,
            under_warranty: true,
        },
        locale: "en-GB".into(),
        region: "uk-leeds".into(),
        contact: Contact {
            name: "Sam".into(),
            phone: "+447700900456".into(),
            email: String::new(),
        },
        idempotency_key: "verify-cmd-0001".into(),
        priority: Priority::Normal,
        description: "E24".into(),
    };
    let (mut case, first) = new.open(CaseId::new("c-verify"), 1_000).unwrap();
    let mut events = vec![first];
    events.push(
        case.append(CaseEvent::Queued { arrival: 1 }, Actor::System, 2_000)
            .unwrap(),
    );
    let evidence = CaseEvidence {
        case: &case,
        events: &events,
        photos: &[],
        guide: None,
    };
    export(&evidence, &render_report(&evidence, 3_000), 3_000).unwrap()
}

/// The bundle with `events/000002.json` edited.
fn tampered(bundle: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bundle)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        if file.name() == "events/000002.json" {
            bytes = String::from_utf8(bytes)
                .unwrap()
                .replace("\"arrival\": 1", "\"arrival\": 0")
                .into_bytes();
        }
        out.start_file(file.name(), zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn run(path: &std::path::Path, json: bool) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fieldlens"));
    command.arg("verify").arg(path);
    if json {
        command.arg("--json");
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn exit_codes_say_intact_tampered_or_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let intact = dir.path().join("case.zip");
    let original = bundle();
    std::fs::write(&intact, &original).unwrap();
    let (code, out, _) = run(&intact, false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("case.zip: intact"), "{out}");
    assert!(out.contains("case c-verify"), "{out}");

    let edited = dir.path().join("edited.zip");
    std::fs::write(&edited, tampered(&original)).unwrap();
    let (code, out, _) = run(&edited, false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TAMPERED — 2 problems"), "{out}");
    assert!(out.contains("changed: event events/000002.json"), "{out}");
    assert!(
        out.contains("broken event chain: event 2 (events/000002.json)"),
        "{out}"
    );
    let (code, out, _) = run(&edited, true);
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["status"], "tampered");
    assert_eq!(value["report"]["problems"][0]["problem"], "changed");
    assert_eq!(
        value["report"]["problems"][0]["item"]["path"],
        "events/000002.json"
    );

    let garbage = dir.path().join("garbage.zip");
    std::fs::write(&garbage, b"PK\x03\x04 but not really a zip").unwrap();
    let (code, _, err) = run(&garbage, false);
    assert_eq!(code, 2);
    assert!(
        err.contains("garbage.zip: unreadable: not a readable zip archive"),
        "{err}"
    );
    let (code, _, err) = run(&dir.path().join("absent.zip"), false);
    assert_eq!(code, 2);
    assert!(err.contains("absent.zip: unreadable"), "{err}");
}
