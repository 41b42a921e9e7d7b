//! A validated guide pack: loading a pack's folder, checking every rule, and the step model.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use fieldlens_quality::{CheckProfile, TargetRegion};
use image::ImageDecoder;
use image::codecs::png::PngDecoder;
use sha2::{Digest, Sha256};

use crate::compose::target_in_frame;
use crate::error::{GuideError, GuideErrors, Location};
use crate::limits;
use crate::manifest::{AppliesTo, PackManifest, Presence, StepManifest, Text};

/// The case kinds a pack may apply to.
pub const CASE_KINDS: [&str; 2] = ["car_damage", "appliance"];

/// A step's overlay image, read and checked at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    path: String,
    bytes: Vec<u8>,
    width: u32,
    height: u32,
    sha256: String,
}

impl Overlay {
    /// The path inside the pack's folder, as written in the manifest.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The PNG file's bytes, e.g. to send to a client.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// SHA-256 (hex) of the bytes, so clients can cache overlays.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Decodes the image (validated at load, so this fails only if memory runs out).
    pub fn decode(&self) -> Result<image::RgbaImage, GuideError> {
        image::load_from_memory_with_format(&self.bytes, image::ImageFormat::Png)
            .map(|image| image.into_rgba8())
            .map_err(|error| GuideError::Image(format!("overlay `{}`: {error}", self.path)))
    }
}

/// One step of a guided capture.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideStep {
    id: String,
    title: Text,
    instruction: Text,
    overlay: Overlay,
    target: TargetRegion,
    profile: CheckProfile,
    presence: Presence,
    max_photos: u32,
    pairs_with: Option<String>,
    feeds: Vec<String>,
}

impl GuideStep {
    /// The step's id, unique in its pack (lowercase letters, digits, `_`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Short title.
    pub fn title(&self) -> &Text {
        &self.title
    }

    /// What the caller should do, in a sentence or two.
    pub fn instruction(&self) -> &Text {
        &self.instruction
    }

    /// The overlay shown over the camera preview.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// Where the subject should sit, normalised to the overlay's frame, and its fill range.
    pub fn target(&self) -> TargetRegion {
        self.target
    }

    /// The quality profile for photos of this step, with `target` set to the step's region
    /// (for a photo of the overlay's aspect ratio; see [`GuideStep::profile_for_frame`]).
    pub fn profile(&self) -> &CheckProfile {
        &self.profile
    }

    /// The profile for a photo of `width` × `height`: the target region moved to where the
    /// overlay, fitted inside that frame, shows it.
    pub fn profile_for_frame(&self, width: u32, height: u32) -> CheckProfile {
        let target = target_in_frame(
            &self.target,
            (width, height),
            (self.overlay.width, self.overlay.height),
        );
        CheckProfile {
            target: Some(target),
            ..self.profile.clone()
        }
    }

    /// Required or optional.
    pub fn presence(&self) -> Presence {
        self.presence
    }

    /// Whether the capture is incomplete without this step.
    pub fn is_required(&self) -> bool {
        self.presence == Presence::Required
    }

    /// How many accepted photos the step takes (1 unless repeatable).
    pub fn max_photos(&self) -> u32 {
        self.max_photos
    }

    /// Whether the step takes more than one photo (e.g. one per damaged area).
    pub fn is_repeatable(&self) -> bool {
        self.max_photos > 1
    }

    /// The earlier step each photo of this one is paired with: the n-th photo here goes
    /// with the n-th photo there (a close-up with its wider context shot).
    pub fn pairs_with(&self) -> Option<&str> {
        self.pairs_with.as_deref()
    }

    /// The triage inputs this step's photos feed, e.g. `photo.front_left`.
    pub fn feeds(&self) -> &[String] {
        &self.feeds
    }
}

/// A validated guide pack.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidePack {
    id: String,
    version: u32,
    title: Text,
    summary: Text,
    applies_to: AppliesTo,
    steps: Vec<GuideStep>,
    dir: PathBuf,
}

impl GuidePack {
    /// The pack's id, equal to its folder's name (lowercase letters, digits, `-`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The manifest's version, raised whenever steps change meaning.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The pack's title.
    pub fn title(&self) -> &Text {
        &self.title
    }

    /// What the pack is for, in a sentence.
    pub fn summary(&self) -> &Text {
        &self.summary
    }

    /// The case kind and product categories the pack is for.
    pub fn applies_to(&self) -> &AppliesTo {
        &self.applies_to
    }

    /// The folder the pack was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The steps in capture order.
    pub fn steps(&self) -> &[GuideStep] {
        &self.steps
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&GuideStep> {
        self.steps.iter().find(|step| step.id == id)
    }

    /// The step with this id, or an error naming the pack and the step.
    pub fn require_step(&self, id: &str) -> Result<&GuideStep, GuideError> {
        self.step(id).ok_or_else(|| GuideError::UnknownStep {
            pack: self.id.clone(),
            step: id.to_owned(),
        })
    }

    /// The position of the step with this id in capture order.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|step| step.id == id)
    }

    /// The steps the capture is incomplete without, in order.
    pub fn required_steps(&self) -> impl Iterator<Item = &GuideStep> {
        self.steps.iter().filter(|step| step.is_required())
    }

    /// The step whose photos pair with this step's (its close-up, say), if any.
    pub fn paired_by(&self, id: &str) -> Option<&GuideStep> {
        self.steps
            .iter()
            .find(|step| step.pairs_with.as_deref() == Some(id))
    }

    /// Every triage input the pack's steps feed, sorted.
    pub fn triage_inputs(&self) -> BTreeSet<&str> {
        self.steps
            .iter()
            .flat_map(|step| step.feeds.iter().map(String::as_str))
            .collect()
    }

    /// Loads and validates the pack in `dir` (its `pack.toml` and overlays), reporting every
    /// problem found.
    pub fn load(dir: &Path) -> Result<GuidePack, GuideErrors> {
        let manifest_path = dir.join(limits::MANIFEST_FILE);
        let text = read_limited(&manifest_path, limits::MAX_MANIFEST_BYTES)?;
        let text = String::from_utf8(text).map_err(|_| GuideError::Syntax {
            at: Location::file(&manifest_path),
            message: "not UTF-8 text".into(),
        })?;
        let manifest = parse_manifest(&manifest_path, &text)?;
        Validator::new(dir, manifest_path).pack(manifest)
    }
}

/// Reads a regular file no larger than `limit` without reading past the limit. Anything else
/// (a folder, a FIFO that would block, a device) is refused before it is opened.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, GuideError> {
    let read_error = |source| GuideError::Read {
        path: path.to_owned(),
        source,
    };
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > limit {
        return Err(GuideError::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(GuideError::TooLarge {
            path: path.to_owned(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Parses the manifest; a schema error names the step (by id when readable) and field path.
fn parse_manifest(path: &Path, text: &str) -> Result<PackManifest, GuideError> {
    let syntax = |at: Location, message: String| GuideError::Syntax { at, message };
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|error| syntax(Location::file(path), tidy(&error)))?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let message = tidy(error.inner());
        let mut at = Location::file(path);
        // `steps[3].quality.min_sharpness` → step #4, field `quality.min_sharpness`.
        if let Some(rest) = field.strip_prefix("steps[") {
            if let Some((index, inner)) = rest.split_once(']') {
                let index: usize = index.parse().unwrap_or_default();
                at = at.step(step_name(text, index));
                let inner = inner.trim_start_matches('.');
                if !inner.is_empty() {
                    at = at.field(inner);
                }
            }
        } else if field != "." && !field.is_empty() {
            at = at.field(field);
        }
        syntax(at, message)
    })
}

/// The id of step `index` read leniently from raw TOML, or `#N` when it has none.
fn step_name(text: &str, index: usize) -> String {
    toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|table| {
            let steps = table.get("steps")?.as_array()?;
            Some(steps.get(index)?.get("id")?.as_str()?.to_owned())
        })
        .filter(|id| is_id(id, IdKind::Step))
        .unwrap_or_else(|| format!("#{}", index + 1))
}

/// One line per part of the TOML error, without trailing blank lines.
fn tidy(error: &toml::de::Error) -> String {
    error.to_string().trim_end().replace('\n', "\n    ")
}

/// Which id rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// Pack ids: lowercase letters, digits and `-` (they are folder names).
    Pack,
    /// Step ids and categories: lowercase letters, digits and `_`.
    Step,
    /// Triage input ids: lowercase letters, digits, `_` and `.`.
    Input,
}

/// Whether `id` is a well-formed pack id (and so a safe folder name).
pub fn is_pack_id(id: &str) -> bool {
    is_id(id, IdKind::Pack)
}

pub(crate) fn is_id(id: &str, kind: IdKind) -> bool {
    let (separator, max) = match kind {
        IdKind::Pack => ('-', limits::MAX_ID_CHARS),
        IdKind::Step => ('_', limits::MAX_ID_CHARS),
        IdKind::Input => ('.', limits::MAX_INPUT_ID_CHARS),
    };
    let allowed = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == separator
            || c == '_' && kind != IdKind::Pack
    };
    !id.is_empty()
        && id.len() <= max
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with(separator)
        && id.chars().all(allowed)
}

fn id_rule(kind: IdKind) -> String {
    match kind {
        IdKind::Pack => format!(
            "1 to {} lowercase letters, digits and `-`, starting with a letter",
            limits::MAX_ID_CHARS
        ),
        IdKind::Step => format!(
            "1 to {} lowercase letters, digits and `_`, starting with a letter",
            limits::MAX_ID_CHARS
        ),
        IdKind::Input => format!(
            "1 to {} lowercase letters, digits, `_` and `.`, starting with a letter",
            limits::MAX_INPUT_ID_CHARS
        ),
    }
}

/// Checks a parsed manifest, collecting every problem.
struct Validator {
    dir: PathBuf,
    manifest: PathBuf,
    errors: Vec<GuideError>,
}

impl Validator {
    fn new(dir: &Path, manifest: PathBuf) -> Self {
        Self {
            dir: dir.to_owned(),
            manifest,
            errors: Vec::new(),
        }
    }

    fn at(&self) -> Location {
        Location::file(&self.manifest)
    }

    fn invalid(&mut self, at: Location, problem: impl Into<String>) {
        self.errors.push(GuideError::Invalid {
            at,
            problem: problem.into(),
        });
    }

    fn pack(mut self, manifest: PackManifest) -> Result<GuidePack, GuideErrors> {
        let at = self.at();
        self.id(at.clone().field("id"), &manifest.id, IdKind::Pack);
        let folder = self.dir.file_name().and_then(|name| name.to_str());
        if folder.is_some_and(|folder| folder != manifest.id) {
            self.invalid(
                at.clone().field("id"),
                format!(
                    "pack id `{}` differs from its folder's name `{}`",
                    manifest.id,
                    folder.unwrap_or_default()
                ),
            );
        }
        if manifest.version == 0 {
            self.invalid(at.clone().field("version"), "must be 1 or more");
        }
        self.text(&at, "title", &manifest.title, limits::MAX_TITLE_CHARS);
        self.text(&at, "summary", &manifest.summary, limits::MAX_TEXT_CHARS);
        self.applies_to(&manifest.applies_to);
        self.count(
            at.clone().field("steps"),
            manifest.steps.len(),
            limits::MAX_STEPS,
            "steps; a pack has",
        );
        let mut first_index: HashMap<String, usize> = HashMap::new();
        let mut steps = Vec::new();
        for (index, step) in manifest.steps.into_iter().enumerate() {
            let name = if is_id(&step.id, IdKind::Step) {
                step.id.clone()
            } else {
                format!("#{}", index + 1)
            };
            let at = self.at().step(name);
            if let Some(&first) = first_index.get(&step.id) {
                self.errors.push(GuideError::DuplicateStep {
                    at: at.clone().field("id"),
                    id: step.id.clone(),
                    first: first + 1,
                    second: index + 1,
                });
            } else {
                first_index.insert(step.id.clone(), index);
            }
            if let Some(step) = self.step(&at, step) {
                steps.push(step);
            }
        }
        self.pairs(&steps, &first_index);
        if !self.errors.is_empty() {
            return Err(GuideErrors(self.errors));
        }
        Ok(GuidePack {
            id: manifest.id,
            version: manifest.version,
            title: manifest.title,
            summary: manifest.summary,
            applies_to: manifest.applies_to,
            steps,
            dir: self.dir,
        })
    }

    /// Reports `count` outside 1..=`max`, e.g. "0 steps; a pack has 1 to 64".
    fn count(&mut self, at: Location, count: usize, max: usize, what: &str) {
        if count == 0 || count > max {
            self.invalid(at, format!("{count} {what} 1 to {max}"));
        }
    }

    fn id(&mut self, at: Location, id: &str, kind: IdKind) -> bool {
        let valid = is_id(id, kind);
        if !valid {
            self.invalid(at, format!("`{id}` is not a valid id: {}", id_rule(kind)));
        }
        valid
    }

    fn text(&mut self, at: &Location, field: &str, text: &Text, max_chars: usize) {
        for (lang, value) in [("en", &text.en), ("zh", &text.zh)] {
            let at = at.clone().field(format!("{field}.{lang}"));
            let chars = value.chars().count();
            if value.trim().is_empty() {
                self.invalid(at, "is empty; every text needs English and Chinese");
            } else if chars > max_chars {
                self.invalid(at, format!("{chars} characters, more than {max_chars}"));
            } else if value.chars().any(|c| c.is_control() && c != '\n') {
                self.invalid(at, "contains control characters");
            } else if lang == "zh" && !value.chars().any(is_cjk) {
                self.invalid(at, "has no Chinese characters; write the Chinese text here");
            }
        }
    }

    fn applies_to(&mut self, applies_to: &AppliesTo) {
        let at = self.at();
        if !CASE_KINDS.contains(&applies_to.case_kind.as_str()) {
            self.invalid(
                at.clone().field("applies_to.case_kind"),
                format!(
                    "`{}` is not a case kind; expected one of {}",
                    applies_to.case_kind,
                    CASE_KINDS.join(", ")
                ),
            );
        }
        self.count(
            at.clone().field("applies_to.categories"),
            applies_to.categories.len(),
            limits::MAX_CATEGORIES,
            "categories; a pack lists",
        );
        for (index, category) in applies_to.categories.iter().enumerate() {
            self.id(
                at.clone().field(format!("applies_to.categories[{index}]")),
                category,
                IdKind::Step,
            );
        }
    }

    fn step(&mut self, at: &Location, step: StepManifest) -> Option<GuideStep> {
        let errors_before = self.errors.len();
        self.id(at.clone().field("id"), &step.id, IdKind::Step);
        self.text(at, "title", &step.title, limits::MAX_TITLE_CHARS);
        self.text(at, "instruction", &step.instruction, limits::MAX_TEXT_CHARS);
        if !(1..=limits::MAX_PHOTOS_PER_STEP).contains(&step.max_photos) {
            self.invalid(
                at.clone().field("max_photos"),
                format!(
                    "{}; a step takes 1 to {} photos",
                    step.max_photos,
                    limits::MAX_PHOTOS_PER_STEP
                ),
            );
        }
        self.count(
            at.clone().field("feeds"),
            step.feeds.len(),
            limits::MAX_FEEDS,
            "triage inputs; a step feeds",
        );
        let mut seen = BTreeSet::new();
        for (index, input) in step.feeds.iter().enumerate() {
            let at = at.clone().field(format!("feeds[{index}]"));
            if self.id(at.clone(), input, IdKind::Input) && !seen.insert(input) {
                self.invalid(at, format!("`{input}` is listed twice"));
            }
        }
        let target = step.target;
        let outside = [
            ("target.w", "x", target.x, "w", target.w),
            ("target.h", "y", target.y, "h", target.h),
        ]
        .into_iter()
        .find(|&(_, _, start, _, size)| start >= 0.0 && size > 0.0 && start + size > 1.0 + 1e-6);
        if let Some((field, start_name, start, size_name, size)) = outside {
            self.invalid(
                at.clone().field(field),
                format!(
                    "the region leaves the frame: {start_name} + {size_name} = {start} + {size} = {} > 1",
                    start + size
                ),
            );
        } else if let Err(source) = target.validate() {
            let field = profile_field(&source);
            self.errors.push(GuideError::Profile {
                at: at.clone().field(field),
                source,
            });
        }
        let mut profile = step.quality;
        if profile.target.is_some() {
            self.invalid(
                at.clone().field("quality.target"),
                "set the step's region in its `target` table, not inside `quality`",
            );
        }
        profile.target = Some(step.target);
        if let Err(source) = profile.validate() {
            let field = profile_field(&source);
            // Target problems were reported above against `target`.
            if !field.starts_with("target") {
                self.errors.push(GuideError::Profile {
                    at: at.clone().field(format!("quality.{field}")),
                    source,
                });
            }
        }
        let overlay = self.overlay(&at.clone().field("overlay"), &step.overlay);
        if self.errors.len() > errors_before {
            return None;
        }
        Some(GuideStep {
            id: step.id,
            title: step.title,
            instruction: step.instruction,
            overlay: overlay?,
            target: step.target,
            profile,
            presence: step.presence,
            max_photos: step.max_photos,
            pairs_with: step.pairs_with,
            feeds: step.feeds,
        })
    }

    /// Resolves an overlay path inside the pack and checks the PNG's header, then its pixels.
    fn overlay(&mut self, at: &Location, written: &str) -> Option<Overlay> {
        let escapes = |why| GuideError::PathEscapes {
            at: at.clone(),
            path: written.to_owned(),
            why,
        };
        let relative = Path::new(written);
        if written.len() > limits::MAX_PATH_CHARS {
            self.invalid(
                at.clone(),
                format!("path longer than {} characters", limits::MAX_PATH_CHARS),
            );
            return None;
        }
        if relative.is_absolute() || written.starts_with(['/', '\\']) {
            self.errors.push(escapes("absolute path"));
            return None;
        }
        if relative
            .components()
            .any(|part| !matches!(part, Component::Normal(_) | Component::CurDir))
            || written.contains('\\')
        {
            self.errors.push(escapes("`..` or a drive prefix"));
            return None;
        }
        if !written.ends_with(".png") {
            self.invalid(at.clone(), format!("`{written}` must be a `.png` file"));
            return None;
        }
        let path = self.dir.join(relative);
        if !path.exists() {
            self.errors.push(GuideError::OverlayMissing {
                at: at.clone(),
                path: written.to_owned(),
            });
            return None;
        }
        // Symlinks may point anywhere: compare real paths.
        let inside = match (path.canonicalize(), self.dir.canonicalize()) {
            (Ok(real), Ok(root)) => real.starts_with(root),
            _ => false,
        };
        if !inside {
            self.errors
                .push(escapes("a symlink pointing outside the pack"));
            return None;
        }
        match read_overlay(&path, written, at) {
            Ok(overlay) => Some(overlay),
            Err(error) => {
                self.errors.push(error);
                None
            }
        }
    }

    /// Checks `pairs_with`: an earlier step, repeatable alike, required alike, paired once.
    fn pairs(&mut self, steps: &[GuideStep], positions: &HashMap<String, usize>) {
        let mut partners = HashMap::new();
        for (index, step) in steps.iter().enumerate() {
            let Some(partner_id) = &step.pairs_with else {
                continue;
            };
            let at = self.at().step(&step.id).field("pairs_with");
            let Some(partner) = steps.iter().find(|other| &other.id == partner_id) else {
                if !positions.contains_key(partner_id) {
                    self.invalid(at, format!("no step `{partner_id}` in this pack"));
                }
                continue;
            };
            let partner_index = steps.iter().position(|other| other.id == partner.id);
            let problem = if partner.id == step.id {
                Some("a step cannot pair with itself".to_owned())
            } else if partner_index > Some(index) {
                Some(format!("`{partner_id}` must come before this step"))
            } else if partner.pairs_with.is_some() {
                Some(format!(
                    "`{partner_id}` is itself paired; pairs do not chain"
                ))
            } else if partner.max_photos != step.max_photos {
                Some(format!(
                    "`{partner_id}` takes {} photos and this step {}; paired steps take the same number",
                    partner.max_photos, step.max_photos
                ))
            } else if partner.presence != step.presence {
                Some(format!(
                    "`{partner_id}` and this step must both be required or both optional"
                ))
            } else {
                partners
                    .insert(partner_id.clone(), step.id.clone())
                    .map(|other| format!("`{partner_id}` is already paired with `{other}`"))
            };
            if let Some(problem) = problem {
                self.invalid(at, problem);
            }
        }
    }
}

/// The manifest field a quality-crate profile error is about.
fn profile_field(error: &fieldlens_quality::ProfileError) -> String {
    match error {
        fieldlens_quality::ProfileError::OutOfRange { field, .. } => (*field).to_owned(),
        fieldlens_quality::ProfileError::Inverted { low_field, .. } => (*low_field).to_owned(),
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2EBEF)
}

/// Reads an overlay: size limit, PNG header (dimensions and alpha) before any pixel is
/// decoded, then a full decode to catch truncated or corrupt files.
fn read_overlay(path: &Path, written: &str, at: &Location) -> Result<Overlay, GuideError> {
    let invalid = |problem: String| GuideError::OverlayInvalid {
        at: at.clone(),
        path: written.to_owned(),
        problem,
    };
    // Reported against the step and field, not just the file.
    let bytes = read_limited(path, limits::MAX_OVERLAY_BYTES).map_err(|error| match error {
        GuideError::Read { source, .. } => invalid(format!("cannot read: {source}")),
        GuideError::TooLarge { size, limit, .. } => {
            invalid(format!("{size} bytes, more than the limit of {limit}"))
        }
        other => other,
    })?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(invalid("not a PNG file".into()));
    }
    let decoder = PngDecoder::new(std::io::Cursor::new(&bytes))
        .map_err(|error| invalid(format!("unreadable PNG header: {error}")))?;
    let (width, height) = decoder.dimensions();
    let sides = limits::MIN_OVERLAY_SIDE..=limits::MAX_OVERLAY_SIDE;
    if !sides.contains(&width) || !sides.contains(&height) {
        return Err(invalid(format!(
            "{width}×{height} pixels; each side must be {} to {}",
            limits::MIN_OVERLAY_SIDE,
            limits::MAX_OVERLAY_SIDE
        )));
    }
    if !decoder.color_type().has_alpha() {
        return Err(invalid(format!(
            "has no transparency ({:?}); overlays are drawn over the camera picture",
            decoder.color_type()
        )));
    }
    let mut reader = image::ImageReader::with_format(
        BufReader::new(std::io::Cursor::new(&bytes)),
        image::ImageFormat::Png,
    );
    reader.limits(overlay_limits());
    reader
        .decode()
        .map_err(|error| invalid(format!("corrupt PNG: {error}")))?;
    Ok(Overlay {
        path: written.to_owned(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        bytes,
        width,
        height,
    })
}

/// Decoder limits matching the overlay size limits.
pub(crate) fn overlay_limits() -> image::Limits {
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits::MAX_OVERLAY_SIDE);
    image_limits.max_image_height = Some(limits::MAX_OVERLAY_SIDE);
    image_limits.max_alloc = Some(u64::from(limits::MAX_OVERLAY_SIDE).pow(2) * 8);
    image_limits
}

#[cfg(test)]
impl GuidePack {
    /// An in-memory pack for tests: `(id, required, max_photos, pairs_with)` per step.
    pub(crate) fn for_tests(steps: &[(&str, bool, u32, Option<&str>)]) -> GuidePack {
        let text = |s: &str| Text {
            en: s.to_owned(),
            zh: s.to_owned(),
        };
        let target = TargetRegion {
            x: 0.1,
            y: 0.1,
            w: 0.8,
            h: 0.8,
            min_fill: 0.1,
            max_fill: 0.9,
        };
        GuidePack {
            id: "test".into(),
            version: 1,
            title: text("Test"),
            summary: text("Test"),
            applies_to: AppliesTo {
                case_kind: "appliance".into(),
                categories: vec!["test".into()],
            },
            dir: PathBuf::from("test"),
            steps: steps
                .iter()
                .map(|&(id, required, max_photos, pairs_with)| GuideStep {
                    id: id.into(),
                    title: text(id),
                    instruction: text(id),
                    overlay: Overlay {
                        path: format!("overlays/{id}.png"),
                        bytes: Vec::new(),
                        width: 400,
                        height: 300,
                        sha256: String::new(),
                    },
                    target,
                    profile: CheckProfile {
                        target: Some(target),
                        ..CheckProfile::default()
                    },
                    presence: if required {
                        Presence::Required
                    } else {
                        Presence::Optional
                    },
                    max_photos,
                    pairs_with: pairs_with.map(str::to_owned),
                    feeds: vec![format!("photo.{id}")],
                })
                .collect(),
        }
    }
}
