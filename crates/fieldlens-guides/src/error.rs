//! Errors of loading, validating and using guide packs; each names the file, step and field.

use std::fmt;
use std::path::PathBuf;

/// Where in a pack something is wrong: the file, and when known the step and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file concerned (a manifest, or a folder for pack-level problems).
    pub file: PathBuf,
    /// The step's id, or `#N` (1-based) when the step has no readable id.
    pub step: Option<String>,
    /// The field, as a path inside the manifest or step, e.g. `target.w` or `feeds[1]`.
    pub field: Option<String>,
}

impl Location {
    /// A location in `file` outside any step.
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Self {
            file: file.into(),
            step: None,
            field: None,
        }
    }

    /// The same location narrowed to a step.
    pub fn step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    /// The same location narrowed to a field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(step) = &self.step {
            write!(f, ", step `{step}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        Ok(())
    }
}

/// Something wrong with a guide pack, or a lookup that found nothing.
#[derive(Debug, thiserror::Error)]
pub enum GuideError {
    /// A file or folder could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file is larger than its limit; it was not read.
    #[error("{path}: {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The largest size allowed.
        limit: u64,
    },
    /// The manifest is not valid TOML, or does not match the schema: an unknown or
    /// misspelt field, a missing field, a value of the wrong type.
    #[error("{at}: {message}")]
    Syntax {
        /// Where: the manifest, the step and the field path when known.
        at: Location,
        /// The parser's explanation, with line and column when known.
        message: String,
    },
    /// Two steps of one pack share an id.
    #[error("{at}: step id `{id}` is used twice (steps #{first} and #{second})")]
    DuplicateStep {
        /// Where: the manifest and the step.
        at: Location,
        /// The repeated id.
        id: String,
        /// 1-based position of the first step with this id.
        first: usize,
        /// 1-based position of the second.
        second: usize,
    },
    /// A step's target region or quality profile is out of range: a region outside the
    /// frame, a fill range the wrong way round, a threshold out of bounds.
    #[error("{at}: {source}")]
    Profile {
        /// Where: the manifest, the step and the offending field.
        at: Location,
        /// What the quality crate found wrong.
        source: fieldlens_quality::ProfileError,
    },
    /// A path in the manifest leaves the pack's folder: absolute, `..`, or a symlink out.
    #[error("{at}: path `{path}` leaves the pack's folder ({why})")]
    PathEscapes {
        /// Where: the manifest, the step and the field.
        at: Location,
        /// The path as written.
        path: String,
        /// How it escapes.
        why: &'static str,
    },
    /// A step's overlay image does not exist.
    #[error("{at}: overlay `{path}` does not exist")]
    OverlayMissing {
        /// Where: the manifest, the step and the field.
        at: Location,
        /// The overlay's path inside the pack.
        path: String,
    },
    /// A step's overlay exists but cannot be used: not a PNG, no alpha channel, size out of
    /// bounds, or corrupt.
    #[error("{at}: overlay `{path}`: {problem}")]
    OverlayInvalid {
        /// Where: the manifest, the step and the field.
        at: Location,
        /// The overlay's path inside the pack.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A value breaks a rule of the pack format (text missing or too long, an id with
    /// characters outside its set, a count over its limit, an inconsistent pairing).
    #[error("{at}: {problem}")]
    Invalid {
        /// Where: the manifest, the step and the field.
        at: Location,
        /// The rule broken, in words.
        problem: String,
    },
    /// Two packs in one library share an id or claim the same case kind and category.
    #[error("{at}: {problem}")]
    Conflict {
        /// Where: the second pack's manifest.
        at: Location,
        /// What the two packs share.
        problem: String,
    },
    /// The guides folder holds no packs.
    #[error("{path}: no guide packs (folders with a pack.toml) found")]
    NoPacks {
        /// The folder searched.
        path: PathBuf,
    },
    /// No pack has this id.
    #[error("no guide pack `{0}`")]
    UnknownPack(String),
    /// The pack has no step with this id.
    #[error("guide pack `{pack}` has no step `{step}`")]
    UnknownStep {
        /// The pack searched.
        pack: String,
        /// The step id asked for.
        step: String,
    },
    /// No pack applies to this case kind and product category.
    #[error("no guide pack for case kind `{kind}` and product category `{category}`")]
    NoPackForCase {
        /// The case kind, e.g. `appliance`.
        kind: String,
        /// The product category, e.g. `washing_machine`.
        category: String,
    },
    /// An image to compose or draw on cannot be decoded or is too large.
    #[error("image: {0}")]
    Image(String),
    /// The font for contact-sheet titles is unusable or lacks characters the titles need.
    #[error("font: {0}")]
    Font(String),
}

impl GuideError {
    /// Where in a pack the problem is, for errors about a pack's content.
    pub fn location(&self) -> Option<&Location> {
        match self {
            GuideError::Syntax { at, .. }
            | GuideError::DuplicateStep { at, .. }
            | GuideError::Profile { at, .. }
            | GuideError::PathEscapes { at, .. }
            | GuideError::OverlayMissing { at, .. }
            | GuideError::OverlayInvalid { at, .. }
            | GuideError::Invalid { at, .. }
            | GuideError::Conflict { at, .. } => Some(at),
            _ => None,
        }
    }
}

/// Every problem found in a pack or a guides folder, in the order found.
#[derive(Debug)]
pub struct GuideErrors(pub Vec<GuideError>);

impl GuideErrors {
    /// The problems.
    pub fn iter(&self) -> impl Iterator<Item = &GuideError> {
        self.0.iter()
    }
}

impl From<GuideError> for GuideErrors {
    fn from(error: GuideError) -> Self {
        Self(vec![error])
    }
}

impl fmt::Display for GuideErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems in guide packs:", many.len())?;
                for error in many {
                    write!(f, "\n  - {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for GuideErrors {}
