//! `fieldlens verify case.zip`: check an exported case bundle offline and say which items,
//! if any, were changed, removed, added or reordered.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use fieldlens_evidence::{VerifyError, VerifyReport, limits, utc, verify};
use serde_json::json;

/// Exit code of an intact bundle.
const EXIT_INTACT: u8 = 0;
/// Exit code of a bundle with any problem.
const EXIT_TAMPERED: u8 = 1;
/// Exit code of a file that cannot be checked.
const EXIT_UNREADABLE: u8 = 2;

/// Verify a case bundle offline: the manifest, every item's SHA-256, the event chain.
///
/// Checks the bundle written by `fieldlens case export` with nothing but the file: every
/// photo, event record, the case and the report against the manifest; the manifest against
/// its own digest; the event log as a hash chain; each photo against the hash it is named by
/// and the `photo_checked` event that logged it. Compare the printed chain head with the
/// hub's record of the case (`last_event_hash`) to know the bundle holds the whole log.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit codes:
  0  intact
  1  tampered: each changed, missing, added or reordered item is named
  2  unreadable: not a bundle, damaged beyond reading, or over the size limits")]
pub struct VerifyArgs {
    /// The bundle, e.g. case.zip.
    bundle: PathBuf,
    /// Print the result as one JSON object: {"file", "status", "report" | "error"}.
    #[arg(long)]
    json: bool,
}

/// Reads the file without reading past the bundle size limit.
fn read_bundle(args: &VerifyArgs) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(&args.bundle).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(limits::BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limits::BUNDLE_BYTES {
        return Err(VerifyError::TooLarge {
            size: bytes.len() as u64,
            limit: limits::BUNDLE_BYTES,
        }
        .to_string());
    }
    Ok(bytes)
}

fn print_report(file: &str, report: &VerifyReport) {
    if report.is_intact() {
        println!("{file}: intact");
    } else {
        let count = report.problems.len();
        let plural = if count == 1 { "" } else { "s" };
        println!("{file}: TAMPERED — {count} problem{plural}");
        for problem in &report.problems {
            println!("  {problem}");
        }
    }
    if let Some(case) = &report.case_id {
        let exported = report.exported_at.map(utc).unwrap_or_default();
        println!(
            "  case {case}, exported {exported}: {} events, {} photos, {} entries",
            report.events, report.photos, report.entries
        );
    }
    if let Some(head) = &report.chain_head {
        println!("  chain head {head}");
    }
}

/// Runs `fieldlens verify`.
pub fn main(args: VerifyArgs) -> ExitCode {
    let file = args.bundle.display().to_string();
    let outcome = read_bundle(&args).and_then(|bytes| verify(&bytes).map_err(|e| e.to_string()));
    let code = match &outcome {
        Ok(report) if report.is_intact() => EXIT_INTACT,
        Ok(_) => EXIT_TAMPERED,
        Err(_) => EXIT_UNREADABLE,
    };
    match (&outcome, args.json) {
        (Ok(report), true) => {
            let status = if report.is_intact() {
                "intact"
            } else {
                "tampered"
            };
            println!(
                "{}",
                json!({ "file": file, "status": status, "report": report })
            );
        }
        (Err(error), true) => {
            println!(
                "{}",
                json!({ "file": file, "status": "unreadable", "error": error })
            );
        }
        (Ok(report), false) => print_report(&file, report),
        (Err(error), false) => eprintln!("{file}: unreadable: {error}"),
    }
    ExitCode::from(code)
}
