//! Export bundles: an intact bundle verifies clean; each kind of tampering is found and the
//! item named; unreadable archives are refused; bad exports are refused.

mod fixture;

use fieldlens_core::CaseEvent;
use fieldlens_evidence::{
    ExportError, ItemKind, Manifest, Problem, VerifyError, export, manifest::sha256_hex, verify,
};
use fixture::{Fixture, car_claim, entries, zip_of};

/// The report's content does not matter here (tests/report.rs checks it); a short page keeps
/// these tests fast.
const HTML: &str = "<!DOCTYPE html><title>Case c-claim-1</title><p>Truck roll with parts</p>";

fn bundle(fixture: &Fixture) -> Vec<u8> {
    export(&fixture.evidence(), HTML, fixture::T0 + 10_000_000).unwrap()
}

/// Verifies a tampered copy and returns its problems, asserting it is not intact.
fn problems(entries: &[(String, Vec<u8>)]) -> Vec<Problem> {
    let report = verify(&zip_of(entries)).unwrap();
    assert!(!report.is_intact());
    report.problems
}

fn index_of(entries: &[(String, Vec<u8>)], prefix: &str) -> usize {
    entries
        .iter()
        .position(|(name, _)| name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no entry {prefix}"))
}

fn texts(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn an_intact_bundle_verifies_clean_and_lists_every_item_in_order() {
    let fixture = car_claim();
    let bytes = bundle(&fixture);
    let report = verify(&bytes).unwrap();
    assert!(report.is_intact(), "{:#?}", report.problems);
    assert_eq!(report.case_id.as_deref(), Some("c-claim-1"));
    assert_eq!(report.events, fixture.events.len());
    assert_eq!(report.photos, fixture.photos.len());
    assert_eq!(
        report.chain_head.as_deref(),
        Some(fixture.case.last_event_hash.as_str())
    );
    let all = entries(&bytes);
    assert_eq!(all[0].0, "manifest.json");
    let manifest: Manifest = serde_json::from_slice(&all[0].1).unwrap();
    let names: Vec<&str> = all[1..].iter().map(|(name, _)| name.as_str()).collect();
    let listed: Vec<&str> = manifest.items.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(names, listed);
    assert_eq!(names[0], "case.json");
    assert_eq!(names[1], "events/000001.json");
    assert_eq!(*names.last().unwrap(), "report.html");
    for (item, (_, content)) in manifest.items.iter().zip(&all[1..]) {
        assert_eq!(item.sha256, sha256_hex(content), "{}", item.path);
    }
    // Photos are content-addressed.
    let photo = &fixture.photos[0];
    assert!(names.contains(&format!("photos/{}.jpg", photo.sha256).as_str()));
    // The same inputs give the same bytes.
    assert_eq!(bytes, bundle(&fixture));
}

#[test]
fn a_changed_photo_is_named() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let i = index_of(&all, &format!("photos/{}.jpg", fixture.photos[3].sha256));
    let last = all[i].1.len() - 10;
    all[i].1[last] ^= 0x55;
    let name = all[i].0.clone();
    assert_eq!(texts(&problems(&all)), [format!("changed: photo {name}")]);
}

#[test]
fn a_photo_changed_with_a_rewritten_manifest_is_still_caught_by_its_name() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let i = index_of(&all, &format!("photos/{}.jpg", fixture.photos[3].sha256));
    all[i].1 = fixture::jpeg(99, 320, 240);
    let mut manifest: Manifest = serde_json::from_slice(&all[0].1).unwrap();
    let item = manifest
        .items
        .iter_mut()
        .find(|item| item.path == all[i].0)
        .unwrap();
    item.sha256 = sha256_hex(&all[i].1);
    item.size = all[i].1.len() as u64;
    manifest.digest = manifest.compute_digest();
    all[0].1 = serde_json::to_vec(&manifest).unwrap();
    assert_eq!(
        texts(&problems(&all)),
        [
            format!("changed: photo {}", all[i].0),
            format!(
                "inconsistent: manifest manifest.json: lists {} with a hash other than its name",
                all[i].0
            ),
        ]
    );
}

#[test]
fn a_photo_swapped_with_everything_but_the_log_rewritten_is_caught_by_the_log() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let old = fixture.photos[3].sha256.clone();
    let new_bytes = fixture::jpeg(77, 320, 240);
    let new = sha256_hex(&new_bytes);
    let (photo, meta) = (format!("photos/{old}.jpg"), format!("photos/{old}.json"));
    let i = index_of(&all, &photo);
    all[i] = (format!("photos/{new}.jpg"), new_bytes);
    let j = index_of(&all, &meta);
    let record = String::from_utf8(all[j].1.clone())
        .unwrap()
        .replace(&old, &new);
    all[j] = (format!("photos/{new}.json"), record.into_bytes());
    let mut manifest: Manifest = serde_json::from_slice(&all[0].1).unwrap();
    for item in &mut manifest.items {
        if let Some((_, bytes)) = all
            .iter()
            .find(|(name, _)| *name == item.path.replace(&old, &new))
        {
            item.path = item.path.replace(&old, &new);
            item.sha256 = sha256_hex(bytes);
            item.size = bytes.len() as u64;
        }
    }
    manifest.digest = manifest.compute_digest();
    all[0].1 = serde_json::to_vec(&manifest).unwrap();
    let found = texts(&problems(&all));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with(&format!(
            "missing: photo photos/{old}.* (named by event events/"
        )),
        "{found:#?}"
    );
    assert_eq!(
        found[1],
        format!("inconsistent: photo photos/{new}.jpg: no photo_checked event of the log names it")
    );
}

#[test]
fn a_photo_sent_twice_is_one_entry_listing_both_uses() {
    let mut fixture = car_claim();
    let mut again = fixture.photos[2].clone();
    again.meta.step = "scene".into();
    fixture.photos.push(again);
    let bytes = bundle(&fixture);
    let report = verify(&bytes).unwrap();
    assert!(report.is_intact(), "{:#?}", report.problems);
    let all = entries(&bytes);
    let sha = &fixture.photos[2].sha256;
    let record: serde_json::Value =
        serde_json::from_slice(&all[index_of(&all, &format!("photos/{sha}.json"))].1).unwrap();
    let steps: Vec<&str> = record["uses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, [fixture.photos[2].meta.step.as_str(), "scene"]);
}

#[test]
fn a_changed_event_is_named_and_breaks_the_chain() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let i = index_of(&all, "events/000022.json");
    let text = String::from_utf8(all[i].1.clone()).unwrap();
    assert!(text.contains("truck_roll_with_parts"));
    all[i].1 = text
        .replace(
            "\"to\": \"remote_resolved\"",
            "\"to\": \"total_loss_review\"",
        )
        .into_bytes();
    assert_ne!(all[i].1, text.as_bytes());
    assert_eq!(
        texts(&problems(&all)),
        [
            "changed: event events/000022.json",
            "broken event chain: event 22 (events/000022.json) does not match its own hash (it was edited)",
        ]
    );
}

#[test]
fn a_missing_event_is_named() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    all.remove(index_of(&all, "events/000004.json"));
    let found = texts(&problems(&all));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0], "missing: event events/000004.json");
    assert!(
        found[1].starts_with("broken event chain: record 4 of the bundle is seq 5, expected seq 4"),
        "{found:#?}"
    );
}

#[test]
fn an_added_item_is_named() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    all.insert(5, ("photos/extra.jpg".into(), fixture::jpeg(7, 64, 64)));
    assert_eq!(texts(&problems(&all)), ["added: photos/extra.jpg"]);
}

#[test]
fn a_second_entry_with_a_listed_name_is_caught() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    // Zip writers refuse a name twice: write a same-length name, then rename it in place.
    let mut duplicate = all[index_of(&all, "report.html")].clone();
    duplicate.0 = "report.htmz".into();
    all.insert(2, duplicate);
    let mut bytes = zip_of(&all);
    while let Some(at) = bytes.windows(11).position(|w| w == b"report.htmz") {
        bytes[at + 10] = b'l';
    }
    let found = texts(&verify(&bytes).unwrap().problems);
    assert!(
        found.contains(&"added: a second entry named report.html".to_owned()),
        "{found:#?}"
    );
}

#[test]
fn reordered_items_are_named() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    // Move the report to just after the case: only the report is out of place.
    let report = all.remove(index_of(&all, "report.html"));
    all.insert(2, report);
    let found = problems(&all);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        matches!(&found[0], Problem::Reordered { item, found: 2, .. } if item.kind == ItemKind::Report),
        "{found:#?}"
    );
}

#[test]
fn swapped_events_are_named_as_moved() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let (a, b) = (
        index_of(&all, "events/000003.json"),
        index_of(&all, "events/000004.json"),
    );
    let content_a = all[a].1.clone();
    all[a].1 = all[b].1.clone();
    all[b].1 = content_a;
    let found = texts(&problems(&all));
    assert_eq!(
        found[0],
        "moved: event events/000003.json holds the content of event events/000004.json"
    );
    assert_eq!(
        found[1],
        "moved: event events/000004.json holds the content of event events/000003.json"
    );
    assert!(
        found
            .iter()
            .any(|p| p == "inconsistent: event events/000003.json: holds event seq 4"),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("broken event chain: record 3 of the bundle is seq 4")),
        "{found:#?}"
    );
}

#[test]
fn a_changed_report_is_named() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let i = index_of(&all, "report.html");
    let html = String::from_utf8(all[i].1.clone()).unwrap();
    all[i].1 = html
        .replace("Truck roll with parts", "Resolved remotely")
        .into_bytes();
    assert_eq!(texts(&problems(&all)), ["changed: report report.html"]);
}

#[test]
fn an_edited_manifest_is_caught() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let mut manifest: serde_json::Value = serde_json::from_slice(&all[0].1).unwrap();
    manifest["exported_at"] = serde_json::json!(1);
    all[0].1 = serde_json::to_vec(&manifest).unwrap();
    assert_eq!(
        texts(&problems(&all)),
        ["changed: manifest.json (it does not match its own digest)"]
    );

    let mut all = entries(&bundle(&fixture));
    all.remove(0);
    assert_eq!(texts(&problems(&all)), ["missing: manifest.json"]);

    let mut all = entries(&bundle(&fixture));
    all[0].1 = b"{ not json".to_vec();
    assert!(texts(&problems(&all))[0].starts_with("unreadable: manifest.json: not a manifest"));
}

#[test]
fn a_case_that_disagrees_with_its_log_is_caught() {
    let fixture = car_claim();
    let mut all = entries(&bundle(&fixture));
    let i = index_of(&all, "case.json");
    let mut case: serde_json::Value = serde_json::from_slice(&all[i].1).unwrap();
    case["event_count"] = serde_json::json!(7);
    all[i].1 = serde_json::to_vec(&case).unwrap();
    let found = texts(&problems(&all));
    assert_eq!(found[0], "changed: case case.json");
    assert_eq!(
        found[1],
        "inconsistent: case case.json: event_count is 7, the log says 22"
    );
}

#[test]
fn bytes_flipped_inside_the_zip_are_caught() {
    let fixture = car_claim();
    let mut bytes = bundle(&fixture);
    // Photos are stored uncompressed: find one's bytes in the archive and flip one. The
    // middle of the photo holds the part that differs from the other fixture photos.
    let photo = &fixture.photos[2].bytes;
    let middle = &photo[photo.len() / 2..photo.len() / 2 + 64];
    let at = bytes.windows(64).position(|w| w == middle).unwrap();
    bytes[at + 10] ^= 0xff;
    let report = verify(&bytes).unwrap();
    let found = texts(&report.problems);
    let name = format!("photos/{}.jpg", fixture.photos[2].sha256);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with(&format!("unreadable: photo {name}")),
        "{found:#?}"
    );
}

#[test]
fn unreadable_bundles_are_refused_with_a_reason() {
    assert!(matches!(
        verify(b"not a zip at all"),
        Err(VerifyError::NotAZip(_))
    ));
    let fixture = car_claim();
    let bytes = bundle(&fixture);
    assert!(matches!(
        verify(&bytes[..bytes.len() / 2]),
        Err(VerifyError::NotAZip(_))
    ));

    // A zip bomb: 200 MB of zeros in one entry.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("report.html", options).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..60 {
        std::io::Write::write_all(&mut zip, &zeros).unwrap();
    }
    let bomb = zip.finish().unwrap().into_inner();
    let refused = verify(&bomb).unwrap_err();
    assert!(matches!(refused, VerifyError::ZipBomb { .. }), "{refused}");
    assert!(
        refused
            .to_string()
            .starts_with("entry \"report.html\" claims a compression ratio of")
    );

    let many: Vec<(String, Vec<u8>)> = (0..10_001).map(|i| (format!("x{i}"), vec![])).collect();
    assert!(matches!(
        verify(&zip_of(&many)),
        Err(VerifyError::TooManyEntries { count: 10_001, .. })
    ));

    let big_json = vec![(String::from("manifest.json"), vec![b' '; (16 << 20) + 1])];
    assert!(matches!(
        verify(&zip_of(&big_json)),
        Err(VerifyError::EntryTooLarge { .. })
    ));

    let mut all = entries(&bytes);
    let mut manifest: serde_json::Value = serde_json::from_slice(&all[0].1).unwrap();
    manifest["version"] = serde_json::json!(9);
    all[0].1 = serde_json::to_vec(&manifest).unwrap();
    assert!(matches!(
        verify(&zip_of(&all)),
        Err(VerifyError::UnsupportedFormat { version: 9, .. })
    ));
}

#[test]
fn exports_of_damaged_data_are_refused() {
    let fixture = car_claim();
    let html = "<html></html>";

    let mut broken = car_claim();
    if let CaseEvent::DecisionOverridden { reason, .. } = &mut broken.events[21].event {
        reason.push('!');
    }
    let error = export(&broken.evidence(), html, 0).unwrap_err();
    assert!(matches!(error, ExportError::BrokenChain { .. }), "{error}");

    let mut short = car_claim();
    short.events.pop();
    let error = export(&short.evidence(), html, 0).unwrap_err();
    assert!(
        error.to_string().contains("the case records 22 events"),
        "{error}"
    );

    let mut wrong_hash = car_claim();
    wrong_hash.photos[0].bytes.push(0);
    assert!(matches!(
        export(&wrong_hash.evidence(), html, 0),
        Err(ExportError::PhotoHash { .. })
    ));

    let mut not_image = car_claim();
    not_image.photos[0].bytes = b"GIF89a not really".to_vec();
    not_image.photos[0].sha256 = sha256_hex(&not_image.photos[0].bytes);
    assert!(matches!(
        export(&not_image.evidence(), html, 0),
        Err(ExportError::PhotoFormat { .. })
    ));

    assert!(export(&fixture.evidence(), html, 0).is_ok());
}
