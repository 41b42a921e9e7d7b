//! `fieldlens check`: run the photo quality checks on files and folders from the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use fieldlens_quality::baseline::check_photo_baseline;
use fieldlens_quality::{CheckProfile, PhotoReport, QualityError, are_duplicates, check_photo};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Exit code when every photo was checked and accepted (or a pair is not a duplicate).
const EXIT_ACCEPTED: u8 = 0;
/// Exit code for a usage, file or profile error.
const EXIT_ERROR: u8 = 1;
/// Exit code when at least one photo needs a retake (or a pair is a duplicate).
const EXIT_RETAKE: u8 = 2;
/// Exit code when at least one photo could not be checked (empty, truncated, unsupported...).
const EXIT_UNCHECKABLE: u8 = 3;
/// Show a progress bar from this many photos on.
const PROGRESS_FROM: usize = 8;

/// Check photos: accept or retake, with reasons.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit codes:
  0  every photo was accepted (with --pairs: the two photos are not duplicates)
  1  usage, file or profile error
  2  at least one photo needs a retake (with --pairs: the photos are duplicates)
  3  at least one photo could not be checked (empty, truncated, corrupt, unsupported, too large)
Codes 2 and 3 together give 3.")]
pub struct CheckArgs {
    /// Photos (JPEG, PNG, WebP) or folders to search for them (recursively).
    #[arg(required_unless_present = "pairs")]
    paths: Vec<PathBuf>,
    /// Print one JSON object per photo: {"file", "verdict", "reasons", "car_bbox"} (the box,
    /// normalised [x, y, w, h], only when a subject was found).
    #[arg(long)]
    json: bool,
    /// With --json: print the whole report (scores, thresholds, messages, metrics) per photo.
    #[arg(long, requires = "json")]
    full: bool,
    /// Say whether photos A and B are duplicates (same capture, resized, re-encoded or cropped).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "paths")]
    pairs: Option<Vec<PathBuf>>,
    /// TOML file overriding thresholds (any subset of the check profile's fields).
    #[arg(long, value_name = "FILE.toml")]
    profile: Option<PathBuf>,
    /// Use the simple baseline rules instead of the checker (for comparison).
    #[arg(long)]
    baseline: bool,
    /// Photos checked in parallel (default: one per core).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

/// Runs `fieldlens check`.
pub fn main(args: CheckArgs) -> ExitCode {
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(args: &CheckArgs) -> anyhow::Result<u8> {
    let profile = load_profile(args.profile.as_deref())?;
    fieldlens_quality::set_opencv_threads(1).context("configuring OpenCV")?;
    if let Some(pair) = &args.pairs {
        return compare_pair(&pair[0], &pair[1], &profile, args.json);
    }
    let files = collect_photos(&args.paths)?;
    if files.is_empty() {
        bail!("no JPEG, PNG or WebP files found in the given paths");
    }
    let results = check_all(&files, &profile, args);
    let mut stdout = std::io::stdout().lock();
    let mut code = EXIT_ACCEPTED;
    for (file, result) in files.iter().zip(&results) {
        code = code.max(match result {
            Ok(report) if report.issues.is_empty() => EXIT_ACCEPTED,
            Ok(_) => EXIT_RETAKE,
            Err(_) => EXIT_UNCHECKABLE,
        });
        if args.json {
            writeln!(stdout, "{}", json_line(file, result, args.full))?;
        }
    }
    if !args.json {
        print_table(&mut stdout, &files, &results)?;
    }
    Ok(code)
}

fn load_profile(path: Option<&Path>) -> anyhow::Result<CheckProfile> {
    let Some(path) = path else {
        return Ok(CheckProfile::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading profile {}", path.display()))?;
    let profile: CheckProfile =
        toml::from_str(&text).with_context(|| format!("parsing profile {}", path.display()))?;
    profile
        .validate()
        .with_context(|| format!("checking profile {}", path.display()))?;
    Ok(profile)
}

fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            ["jpg", "jpeg", "png", "webp"].contains(&extension.to_ascii_lowercase().as_str())
        })
}

/// Files as given, and photos found in folders (sorted, recursively).
fn collect_photos(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if metadata.is_dir() {
            let mut found = Vec::new();
            let mut folders = vec![path.clone()];
            while let Some(folder) = folders.pop() {
                for entry in std::fs::read_dir(&folder)
                    .with_context(|| format!("listing {}", folder.display()))?
                {
                    let entry_path = entry?.path();
                    if entry_path.is_dir() {
                        folders.push(entry_path);
                    } else if is_photo(&entry_path) {
                        found.push(entry_path);
                    }
                }
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Why a photo could not be checked (read error or a quality error).
type Outcome = Result<PhotoReport, String>;

fn check_one(file: &Path, profile: &CheckProfile, baseline: bool) -> Outcome {
    let bytes = std::fs::read(file).map_err(|error| format!("cannot read: {error}"))?;
    let report = if baseline {
        check_photo_baseline(&bytes, profile)
    } else {
        check_photo(&bytes, profile, &[])
    };
    report.map_err(|error: QualityError| error.to_string())
}

/// Checks every file on a pool of threads, keeping the input order.
fn check_all(files: &[PathBuf], profile: &CheckProfile, args: &CheckArgs) -> Vec<Outcome> {
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, files.len());
    let progress = if files.len() >= PROGRESS_FROM {
        let bar = ProgressBar::new(files.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} photos {eta}") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; files.len()]);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(index) else { break };
                    let outcome = check_one(file, profile, args.baseline);
                    if let Ok(mut slots) = results.lock() {
                        slots[index] = Some(outcome);
                    }
                    progress.inc(1);
                }
            });
        }
    });
    progress.finish_and_clear();
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err("not checked".into())))
        .collect()
}

fn json_line(file: &Path, result: &Outcome, full: bool) -> serde_json::Value {
    let name = file.display().to_string();
    match result {
        Err(error) => json!({ "file": name, "error": error }),
        Ok(report) if full => {
            let mut value = serde_json::to_value(report).unwrap_or_default();
            value["file"] = json!(name);
            value
        }
        Ok(report) => {
            let reasons: Vec<&str> = report.reasons().map(|reason| reason.as_str()).collect();
            let mut value = json!({
                "file": name,
                "verdict": report.verdict.as_str(),
                "reasons": reasons,
            });
            if let Some(b) = report.subject_box {
                value["car_bbox"] = json!([b.x, b.y, b.w, b.h]);
            }
            value
        }
    }
}

fn print_table(out: &mut impl Write, files: &[PathBuf], results: &[Outcome]) -> anyhow::Result<()> {
    let names: Vec<String> = files
        .iter()
        .map(|file| file.display().to_string())
        .collect();
    let width = names
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    writeln!(
        out,
        "{:<width$}  {:<7}  {:>9}  {:>5}  REASONS",
        "FILE", "VERDICT", "SIZE", "MS"
    )?;
    let (mut accepted, mut retake, mut failed) = (0, 0, 0);
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(report) => {
                let reasons: Vec<String> = report
                    .issues
                    .iter()
                    .map(|issue| match issue.subtype.as_str() {
                        "" => issue.reason.to_string(),
                        subtype => format!("{}({subtype})", issue.reason),
                    })
                    .collect();
                if report.issues.is_empty() {
                    accepted += 1;
                } else {
                    retake += 1;
                }
                writeln!(
                    out,
                    "{name:<width$}  {:<7}  {:>9}  {:>5}  {}",
                    report.verdict.as_str(),
                    format!("{}x{}", report.width, report.height),
                    report.check_ms,
                    reasons.join(", ")
                )?;
            }
            Err(error) => {
                failed += 1;
                writeln!(
                    out,
                    "{name:<width$}  {:<7}  {:>9}  {:>5}  {error}",
                    "error", "-", "-"
                )?;
            }
        }
    }
    writeln!(
        out,
        "\n{} photos: {accepted} accepted, {retake} to retake, {failed} not checkable",
        results.len()
    )?;
    Ok(())
}

fn compare_pair(a: &Path, b: &Path, profile: &CheckProfile, as_json: bool) -> anyhow::Result<u8> {
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let (first, second) = (read(a)?, read(b)?);
    let (duplicate, distance) = match are_duplicates(&first, &second, profile) {
        Ok(found) => found,
        Err(error) => {
            if as_json {
                println!(
                    "{}",
                    json!({"file_a": a.display().to_string(), "file_b": b.display().to_string(), "error": error.to_string()})
                );
            } else {
                eprintln!(
                    "cannot compare {} and {}: {error}",
                    a.display(),
                    b.display()
                );
            }
            return Ok(EXIT_UNCHECKABLE);
        }
    };
    if as_json {
        println!(
            "{}",
            json!({
                "file_a": a.display().to_string(),
                "file_b": b.display().to_string(),
                "duplicate": duplicate,
                "distance": distance,
                "max_distance": profile.max_duplicate_distance,
            })
        );
    } else {
        let verdict = if duplicate {
            "duplicates"
        } else {
            "not duplicates"
        };
        println!(
            "{} and {}: {verdict} (hash distance {distance} bits, limit {})",
            a.display(),
            b.display(),
            profile.max_duplicate_distance
        );
    }
    Ok(if duplicate {
        EXIT_RETAKE
    } else {
        EXIT_ACCEPTED
    })
}
