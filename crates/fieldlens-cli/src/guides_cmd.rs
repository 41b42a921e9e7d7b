//! `fieldlens guides`: list, show, lint and render the guide packs in a folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use fieldlens_guides::{
    GuideError, GuideLibrary, GuidePack, GuideStep, Lang, Presence, SheetOptions, Text,
};
use serde_json::{Value, json};

/// Largest font file `render --font` reads (CJK fonts run to tens of megabytes).
const MAX_FONT_BYTES: u64 = 64 * 1024 * 1024;

/// Arguments of `fieldlens guides`.
#[derive(Debug, Args)]
pub struct GuidesArgs {
    /// The folder holding the packs (one sub-folder with a pack.toml per pack).
    #[arg(
        long,
        global = true,
        env = "FIELDLENS_GUIDES_DIR",
        default_value = "guides"
    )]
    dir: PathBuf,
    #[command(subcommand)]
    command: GuidesCommand,
}

#[derive(Debug, Subcommand)]
enum GuidesCommand {
    /// List the packs: id, version, which cases they are for, steps.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one pack's steps: texts, overlay, target region, photos, triage inputs.
    Show {
        /// The pack's id, e.g. `car-claim`.
        pack: String,
        /// Print JSON (every field, quality profile included) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check every pack against the format's rules; exits non-zero on any problem.
    Lint {
        /// Print JSON: per pack, ok or its problems with file, step and field.
        #[arg(long)]
        json: bool,
    },
    /// Draw a contact sheet of a pack: every step's overlay, target and title, as PNG.
    Render {
        /// The pack's id, e.g. `car-claim`.
        pack: String,
        /// Where to write the PNG.
        #[arg(short, long)]
        output: PathBuf,
        /// Language of the titles.
        #[arg(long, value_enum, default_value_t = LangArg::En)]
        lang: LangArg,
        /// A TrueType/OpenType font for the titles; needed for Chinese (e.g. Noto Sans CJK).
        #[arg(long)]
        font: Option<PathBuf>,
        /// Steps per row.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
        columns: u32,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LangArg {
    En,
    Zh,
}

impl From<LangArg> for Lang {
    fn from(lang: LangArg) -> Self {
        match lang {
            LangArg::En => Lang::En,
            LangArg::Zh => Lang::Zh,
        }
    }
}

/// Runs a `fieldlens guides` command.
pub fn run(args: GuidesArgs) -> Result<()> {
    match args.command {
        GuidesCommand::List { json } => list(&args.dir, json),
        GuidesCommand::Show { pack, json } => show(&load_pack(&args.dir, &pack)?, json),
        GuidesCommand::Lint { json } => lint(&args.dir, json),
        GuidesCommand::Render {
            pack,
            output,
            lang,
            font,
            columns,
        } => render(
            &args.dir,
            &pack,
            &output,
            lang.into(),
            font.as_deref(),
            columns,
        ),
    }
}

/// Loads one pack by id from its folder, so a broken neighbour does not hide it.
fn load_pack(dir: &Path, id: &str) -> Result<GuidePack> {
    if !fieldlens_guides::pack::is_pack_id(id) {
        bail!("`{id}` is not a pack id (lowercase letters, digits and `-`)");
    }
    let pack_dir = dir.join(id);
    if !pack_dir.is_dir() {
        bail!(
            "no pack `{id}` in {} (see `fieldlens guides list`)",
            dir.display()
        );
    }
    GuidePack::load(&pack_dir).map_err(|errors| anyhow::anyhow!("{errors}"))
}

fn list(dir: &Path, json: bool) -> Result<()> {
    let library = GuideLibrary::load_dir(dir)
        .map_err(|errors| anyhow::anyhow!("{errors}"))
        .with_context(|| format!("loading guide packs from {}", dir.display()))?;
    if json {
        let packs: Vec<Value> = library.packs().iter().map(pack_json).collect();
        println!("{}", serde_json::to_string_pretty(&packs)?);
        return Ok(());
    }
    println!(
        "{:<18} {:>3}  {:<11} {:<18} {:>5} {:>8}  title",
        "pack", "ver", "case kind", "categories", "steps", "required"
    );
    for pack in library.packs() {
        println!(
            "{:<18} {:>3}  {:<11} {:<18} {:>5} {:>8}  {}",
            pack.id(),
            pack.version(),
            pack.applies_to().case_kind,
            pack.applies_to().categories.join(","),
            pack.steps().len(),
            pack.required_steps().count(),
            pack.title().en
        );
    }
    Ok(())
}

fn text_json(text: &Text) -> Value {
    json!({ "en": text.en, "zh": text.zh })
}

fn presence_name(presence: Presence) -> &'static str {
    match presence {
        Presence::Required => "required",
        Presence::Optional => "optional",
    }
}

fn pack_json(pack: &GuidePack) -> Value {
    json!({
        "id": pack.id(),
        "version": pack.version(),
        "title": text_json(pack.title()),
        "summary": text_json(pack.summary()),
        "case_kind": pack.applies_to().case_kind,
        "categories": pack.applies_to().categories,
        "steps": pack.steps().len(),
        "required_steps": pack.required_steps().count(),
        "triage_inputs": pack.triage_inputs(),
    })
}

fn step_json(step: &GuideStep) -> Result<Value> {
    let overlay = step.overlay();
    Ok(json!({
        "id": step.id(),
        "title": text_json(step.title()),
        "instruction": text_json(step.instruction()),
        "presence": presence_name(step.presence()),
        "max_photos": step.max_photos(),
        "pairs_with": step.pairs_with(),
        "feeds": step.feeds(),
        "overlay": {
            "path": overlay.path(),
            "width": overlay.width(),
            "height": overlay.height(),
            "bytes": overlay.bytes().len(),
            "sha256": overlay.sha256(),
        },
        "target": serde_json::to_value(step.target())?,
        "quality": serde_json::to_value(step.profile())?,
    }))
}

fn show(pack: &GuidePack, json: bool) -> Result<()> {
    if json {
        let mut value = pack_json(pack);
        value["steps"] = pack
            .steps()
            .iter()
            .map(step_json)
            .collect::<Result<Vec<_>>>()?
            .into();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("{} — {} / {}", pack.id(), pack.title().en, pack.title().zh);
    println!(
        "version {} · {} cases, categories {} · {} steps, {} required",
        pack.version(),
        pack.applies_to().case_kind,
        pack.applies_to().categories.join(", "),
        pack.steps().len(),
        pack.required_steps().count()
    );
    println!("{}\n{}", pack.summary().en, pack.summary().zh);
    for (index, step) in pack.steps().iter().enumerate() {
        let mut facts = vec![presence_name(step.presence()).to_owned()];
        if step.is_repeatable() {
            facts.push(format!("up to {} photos", step.max_photos()));
        }
        if let Some(partner) = step.pairs_with() {
            facts.push(format!("each paired with a `{partner}` photo"));
        }
        let target = step.target();
        println!(
            "\n{}. {} — {} / {}  [{}]",
            index + 1,
            step.id(),
            step.title().en,
            step.title().zh,
            facts.join(", ")
        );
        println!("   en: {}", step.instruction().en);
        println!("   zh: {}", step.instruction().zh);
        println!(
            "   overlay {} ({}×{}) · target x {:.2} y {:.2} w {:.2} h {:.2}, fill {:.2}–{:.2}",
            step.overlay().path(),
            step.overlay().width(),
            step.overlay().height(),
            target.x,
            target.y,
            target.w,
            target.h,
            target.min_fill,
            target.max_fill
        );
        println!("   feeds {}", step.feeds().join(", "));
    }
    Ok(())
}

fn error_json(error: &GuideError) -> Value {
    let location = error.location();
    json!({
        "message": error.to_string(),
        "file": location.map(|at| at.file.display().to_string()),
        "step": location.and_then(|at| at.step.clone()),
        "field": location.and_then(|at| at.field.clone()),
    })
}

fn lint(dir: &Path, json: bool) -> Result<()> {
    let checks = GuideLibrary::check_dir(dir)
        .with_context(|| format!("linting guide packs in {}", dir.display()))?;
    let mut report = Vec::new();
    let mut packs = Vec::new();
    let mut problems = 0;
    for check in checks {
        let name = check.dir.display().to_string();
        match check.result {
            Ok(pack) => {
                report.push(json!({ "dir": name, "id": pack.id(), "ok": true, "steps": pack.steps().len(), "errors": [] }));
                if !json {
                    println!("ok    {} ({} steps)", pack.id(), pack.steps().len());
                }
                packs.push(pack);
            }
            Err(errors) => {
                problems += errors.0.len();
                report.push(json!({ "dir": name, "ok": false, "errors": errors.iter().map(error_json).collect::<Vec<_>>() }));
                if !json {
                    println!("FAIL  {name}");
                    for error in errors.iter() {
                        println!("      {error}");
                    }
                }
            }
        }
    }
    // Packs valid on their own may still clash with each other.
    let conflicts = match GuideLibrary::from_packs(packs) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0,
    };
    problems += conflicts.len();
    if json {
        let value = json!({
            "ok": problems == 0,
            "packs": report,
            "conflicts": conflicts.iter().map(error_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for conflict in &conflicts {
            println!("FAIL  {conflict}");
        }
    }
    if problems > 0 {
        bail!(
            "{problems} problem(s) in the guide packs in {}",
            dir.display()
        );
    }
    Ok(())
}

fn render(
    dir: &Path,
    id: &str,
    output: &Path,
    lang: Lang,
    font: Option<&Path>,
    columns: u32,
) -> Result<()> {
    let pack = load_pack(dir, id)?;
    let font = match font {
        Some(path) => {
            let size = std::fs::metadata(path)
                .with_context(|| format!("reading font {}", path.display()))?
                .len();
            if size > MAX_FONT_BYTES {
                bail!(
                    "font {} is {size} bytes, more than {MAX_FONT_BYTES}",
                    path.display()
                );
            }
            Some(std::fs::read(path).with_context(|| format!("reading font {}", path.display()))?)
        }
        None => None,
    };
    let options = SheetOptions {
        lang,
        font,
        columns,
    };
    let sheet = fieldlens_guides::render_contact_sheet(&pack, &options).with_context(|| {
        format!(
            "drawing the contact sheet of `{id}` (Chinese titles need --font with Chinese glyphs)"
        )
    })?;
    sheet
        .save_with_format(output, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "wrote {} ({}×{}, {} steps)",
        output.display(),
        sheet.width(),
        sheet.height(),
        pack.steps().len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guides")
    }

    fn args(dir: PathBuf, command: GuidesCommand) -> GuidesArgs {
        GuidesArgs { dir, command }
    }

    #[test]
    fn lint_show_and_render_the_shipped_packs() {
        run(args(shipped(), GuidesCommand::Lint { json: true })).unwrap();
        let pack = load_pack(&shipped(), "car-claim").unwrap();
        let steps = step_json(pack.step("damage_closeup").unwrap()).unwrap();
        assert_eq!(steps["pairs_with"], "damage_context");
        assert_eq!(steps["quality"]["target"]["w"], steps["target"]["w"]);
        let output =
            std::env::temp_dir().join(format!("fieldlens-sheet-{}.png", std::process::id()));
        run(args(
            shipped(),
            GuidesCommand::Render {
                pack: "refrigerator".into(),
                output: output.clone(),
                lang: LangArg::En,
                font: None,
                columns: 5,
            },
        ))
        .unwrap();
        let sheet = image::open(&output).unwrap();
        std::fs::remove_file(&output).unwrap();
        assert_eq!(sheet.width(), 16 + 5 * (360 + 16));
    }

    #[test]
    fn bad_pack_names_and_missing_folders_are_refused() {
        let error = load_pack(&shipped(), "../guides").unwrap_err();
        assert!(error.to_string().contains("not a pack id"), "{error}");
        let error = load_pack(&shipped(), "toaster").unwrap_err();
        assert!(error.to_string().contains("no pack `toaster`"), "{error}");
        let empty =
            std::env::temp_dir().join(format!("fieldlens-no-guides-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let error = run(args(empty.clone(), GuidesCommand::Lint { json: false })).unwrap_err();
        std::fs::remove_dir(&empty).unwrap();
        assert!(format!("{error:#}").contains("no guide packs"), "{error:#}");
    }
}
