//! A folder of guide packs, loaded together, and the lookups the capture flow needs.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{GuideError, GuideErrors, Location};
use crate::limits;
use crate::pack::{GuidePack, GuideStep};

/// Every pack in a guides folder, sorted by id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuideLibrary {
    packs: Vec<GuidePack>,
}

/// The outcome of loading one pack folder, for `lint`: the pack or all its problems.
#[derive(Debug)]
pub struct PackCheck {
    /// The folder.
    pub dir: std::path::PathBuf,
    /// The loaded pack, or every problem found in it.
    pub result: Result<GuidePack, GuideErrors>,
}

impl GuideLibrary {
    /// Loads every pack in `path` (each sub-folder with a `pack.toml`), failing with every
    /// problem found when any pack is invalid or two packs conflict.
    pub fn load_dir(path: &Path) -> Result<GuideLibrary, GuideErrors> {
        let mut packs = Vec::new();
        let mut errors = Vec::new();
        for check in Self::check_dir(path)? {
            match check.result {
                Ok(pack) => packs.push(pack),
                Err(problems) => errors.extend(problems.0),
            }
        }
        errors.extend(conflicts(&packs));
        if errors.is_empty() {
            Ok(GuideLibrary { packs })
        } else {
            Err(GuideErrors(errors))
        }
    }

    /// Loads each pack folder in `path` on its own, sorted by folder name, so a linter can
    /// report on every pack. Fails only when the folder itself cannot be listed, holds no
    /// packs, or holds too many.
    pub fn check_dir(path: &Path) -> Result<Vec<PackCheck>, GuideError> {
        let read_error = |source| GuideError::Read {
            path: path.to_owned(),
            source,
        };
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let dir = entry.path();
            if dir.is_dir() && dir.join(limits::MANIFEST_FILE).exists() {
                dirs.push(dir);
            }
        }
        if dirs.is_empty() {
            return Err(GuideError::NoPacks {
                path: path.to_owned(),
            });
        }
        if dirs.len() > limits::MAX_PACKS {
            return Err(GuideError::Invalid {
                at: Location::file(path),
                problem: format!(
                    "{} packs, more than the limit of {}",
                    dirs.len(),
                    limits::MAX_PACKS
                ),
            });
        }
        dirs.sort();
        Ok(dirs
            .into_iter()
            .map(|dir| PackCheck {
                result: GuidePack::load(&dir),
                dir,
            })
            .collect())
    }

    /// A library of already loaded packs; fails if two conflict.
    pub fn from_packs(mut packs: Vec<GuidePack>) -> Result<GuideLibrary, GuideErrors> {
        packs.sort_by(|a, b| a.id().cmp(b.id()));
        let errors = conflicts(&packs);
        if errors.is_empty() {
            Ok(GuideLibrary { packs })
        } else {
            Err(GuideErrors(errors))
        }
    }

    /// The packs, sorted by id.
    pub fn packs(&self) -> &[GuidePack] {
        &self.packs
    }

    /// The pack with this id.
    pub fn pack(&self, id: &str) -> Option<&GuidePack> {
        self.packs.iter().find(|pack| pack.id() == id)
    }

    /// The pack with this id, or an error naming it.
    pub fn require_pack(&self, id: &str) -> Result<&GuidePack, GuideError> {
        self.pack(id)
            .ok_or_else(|| GuideError::UnknownPack(id.to_owned()))
    }

    /// A step of a pack, or an error naming whichever is missing.
    pub fn step(&self, pack: &str, step: &str) -> Result<&GuideStep, GuideError> {
        self.require_pack(pack)?.require_step(step)
    }

    /// The pack for a case: `car_damage` with category `car` gives `car-claim`; `appliance`
    /// with `washing_machine` gives `washing-machine`, and so on, as the packs declare in
    /// `applies_to`.
    pub fn pack_for_case(&self, case_kind: &str, category: &str) -> Result<&GuidePack, GuideError> {
        self.packs
            .iter()
            .find(|pack| {
                let applies_to = pack.applies_to();
                applies_to.case_kind == case_kind
                    && applies_to.categories.iter().any(|c| c == category)
            })
            .ok_or_else(|| GuideError::NoPackForCase {
                kind: case_kind.to_owned(),
                category: category.to_owned(),
            })
    }
}

/// Packs sharing an id, or claiming the same case kind and category.
fn conflicts(packs: &[GuidePack]) -> Vec<GuideError> {
    let mut errors = Vec::new();
    let mut ids: HashMap<&str, &GuidePack> = HashMap::new();
    let mut claims: HashMap<(&str, &str), &GuidePack> = HashMap::new();
    for pack in packs {
        let at = Location::file(pack.dir().join(limits::MANIFEST_FILE));
        if let Some(first) = ids.insert(pack.id(), pack) {
            errors.push(GuideError::Conflict {
                at: at.clone().field("id"),
                problem: format!(
                    "pack id `{}` is also used by {}",
                    pack.id(),
                    first.dir().display()
                ),
            });
        }
        let applies_to = pack.applies_to();
        for category in &applies_to.categories {
            let claim = (applies_to.case_kind.as_str(), category.as_str());
            if let Some(first) = claims.insert(claim, pack) {
                errors.push(GuideError::Conflict {
                    at: at.clone().field("applies_to.categories"),
                    problem: format!(
                        "`{}` cases of category `{category}` are already guided by pack `{}`",
                        applies_to.case_kind,
                        first.id()
                    ),
                });
            }
        }
    }
    errors
}
