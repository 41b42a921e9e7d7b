//! Checks on the repository itself: docs on every module and API element, no machine paths.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repo root")
        .to_path_buf()
}

/// Tracked and untracked-but-not-ignored files, as the next commit would see them.
fn repo_files() -> Vec<PathBuf> {
    let root = repo_root();
    let output = Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .current_dir(&root)
        .output()
        .expect("git ls-files");
    assert!(output.status.success(), "git ls-files failed");
    output
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
        .filter(|p| p.is_file())
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let mut missing = Vec::new();
    for path in repo_files() {
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        if !first.starts_with("//!") {
            missing.push(relative(&path));
        }
    }
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line:\n{}",
        missing.join("\n")
    );
}

/// Declarations in a .proto file that must carry a comment on the line above.
fn needs_comment(line: &str) -> bool {
    let line = line.trim();
    if line.is_empty()
        || line.starts_with("//")
        || line.starts_with('}')
        || line.starts_with("option ")
    {
        return false;
    }
    if line.starts_with("syntax") || line.starts_with("package") || line.starts_with("import") {
        return false;
    }
    line.starts_with("message ")
        || line.starts_with("enum ")
        || line.starts_with("service ")
        || line.starts_with("rpc ")
        || line.starts_with("oneof ")
        || line.contains(" = ")
}

#[test]
fn every_proto_element_is_documented() {
    let mut undocumented = Vec::new();
    for path in repo_files() {
        if path.extension().is_none_or(|e| e != "proto") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.first().is_some_and(|l| l.starts_with("//")),
            "{} must open with a comment",
            relative(&path)
        );
        for (i, line) in lines.iter().enumerate() {
            if needs_comment(line) {
                let above = i
                    .checked_sub(1)
                    .map(|j| lines[j].trim())
                    .unwrap_or_default();
                if !above.starts_with("//") {
                    undocumented.push(format!("{}:{}: {}", relative(&path), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "undocumented proto elements:\n{}",
        undocumented.join("\n")
    );
}

#[test]
fn no_absolute_machine_paths() {
    let patterns = ["/work/", "/root/", "/home/", "/tmp/fieldlens", "/Users/"];
    let mut found = Vec::new();
    for path in repo_files() {
        let name = relative(&path);
        if name.ends_with(".lock") || name == "tests/e2e/tidy.rs" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if patterns.iter().any(|p| line.contains(p)) {
                found.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "absolute machine paths:\n{}",
        found.join("\n")
    );
}
