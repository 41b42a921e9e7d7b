//! The README's first command ends in `fieldlens demo`: it must run to the end, serve every
//! caller, take one case to verified evidence and stop the hub cleanly.

use fieldlens_e2e::{fieldlens_bin, repo_root};
use std::process::Command;

#[test]
fn the_demo_serves_everyone_and_ends_with_verified_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let output = Command::new(fieldlens_bin())
        .arg("demo")
        .arg("--dir")
        .arg(&demo)
        .current_dir(repo_root())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "6 of 6 callers were served",
        "retake — blur",
        "all required photos in",
        "truck_roll_with_parts",
        "because pump_leak_under_warranty",
        "claims and approves",
        ": intact — ",
        "hub exited cleanly: exit status: 0",
    ] {
        assert!(said.contains(line), "the demo never said {line:?}:\n{said}");
    }
    let html = std::fs::read_to_string(demo.join("report.html")).unwrap();
    assert!(html.contains("Truck roll with parts") && html.contains("dana"));
    let verify = Command::new(fieldlens_bin())
        .arg("verify")
        .arg(demo.join("case.zip"))
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0));
}
