//! The `pack.toml` schema as written by pack authors; unknown fields are rejected.
//!
//! These types only mirror the file. [`crate::pack`] checks them and builds the validated
//! [`crate::GuidePack`].

use fieldlens_quality::{CheckProfile, TargetRegion};
use serde::{Deserialize, Serialize};

/// A text in every language a pack must speak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// English.
    pub en: String,
    /// Simplified Chinese.
    pub zh: String,
}

/// A language a pack speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The language for a BCP 47 locale: Chinese for `zh…`, English otherwise.
    pub fn for_locale(locale: &str) -> Self {
        let language = locale.split(['-', '_']).next().unwrap_or_default();
        if language.eq_ignore_ascii_case("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

impl Text {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// Whether a step must be done for the capture to be complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// The capture is incomplete without it (it may still be skipped, with a reason).
    Required,
    /// Asked for, but the capture is complete without it.
    Optional,
}

/// Which cases a pack is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    /// `car_damage` or `appliance`.
    pub case_kind: String,
    /// Product categories, e.g. `["washing_machine"]`.
    pub categories: Vec<String>,
}

/// The whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackManifest {
    pub id: String,
    pub version: u32,
    pub title: Text,
    pub summary: Text,
    pub applies_to: AppliesTo,
    pub steps: Vec<StepManifest>,
}

/// One `[[steps]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepManifest {
    pub id: String,
    pub title: Text,
    pub instruction: Text,
    pub overlay: String,
    pub presence: Presence,
    #[serde(default = "one")]
    pub max_photos: u32,
    #[serde(default)]
    pub pairs_with: Option<String>,
    pub feeds: Vec<String>,
    pub target: TargetRegion,
    #[serde(default)]
    pub quality: CheckProfile,
}

fn one() -> u32 {
    1
}
