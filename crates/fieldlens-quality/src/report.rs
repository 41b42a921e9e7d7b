//! The report on one photo, mirroring `fieldlens.v1.PhotoReport` in `proto/fieldlens/v1/quality.proto`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Whether a photo can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The photo is usable as taken.
    Accept,
    /// The photo should be taken again; the issues say why.
    Retake,
}

impl Verdict {
    /// The wire name, `accept` or `retake`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Retake => "retake",
        }
    }
}

/// Reason code of a quality issue; the snake_case names are the wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Out of focus or shaken.
    Blur,
    /// Too dark.
    Underexposed,
    /// Too bright, highlights washed out.
    Overexposed,
    /// A bright reflection covers part of the subject.
    Glare,
    /// Grainy.
    Noise,
    /// Too few pixels.
    LowResolution,
    /// Camera not held level.
    Tilted,
    /// Subject too close, too far, cut off or away from where it should be.
    Framing,
    /// A photo of a screen or of a print rather than of the thing itself.
    Recapture,
    /// Near-identical to an earlier photo.
    Duplicate,
}

impl Reason {
    /// Every reason code, in wire order.
    pub const ALL: [Reason; 10] = [
        Reason::Blur,
        Reason::Underexposed,
        Reason::Overexposed,
        Reason::Glare,
        Reason::Noise,
        Reason::LowResolution,
        Reason::Tilted,
        Reason::Framing,
        Reason::Recapture,
        Reason::Duplicate,
    ];

    /// The wire name, e.g. `low_resolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Blur => "blur",
            Reason::Underexposed => "underexposed",
            Reason::Overexposed => "overexposed",
            Reason::Glare => "glare",
            Reason::Noise => "noise",
            Reason::LowResolution => "low_resolution",
            Reason::Tilted => "tilted",
            Reason::Framing => "framing",
            Reason::Recapture => "recapture",
            Reason::Duplicate => "duplicate",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Reason code.
    pub reason: Reason,
    /// Finer cause when known (`motion`/`defocus` for blur,
    /// `too_close`/`too_far`/`cut_off`/`off_target` for framing, `lines`/`look` for tilt,
    /// `screen`/`display`/`print` for recapture); empty otherwise.
    pub subtype: String,
    /// The measured score the decision was made on.
    pub score: f64,
    /// The threshold the score was compared with.
    pub threshold: f64,
    /// One sentence for the caller, in English.
    pub message_en: String,
    /// The same sentence in Simplified Chinese.
    pub message_zh: String,
}

impl Issue {
    /// An issue with the caller sentences for its reason and subtype.
    pub fn new(reason: Reason, subtype: &str, score: f64, threshold: f64) -> Self {
        let (en, zh) = crate::messages::sentence(reason, subtype);
        Issue {
            reason,
            subtype: subtype.to_owned(),
            score,
            threshold,
            message_en: en.to_owned(),
            message_zh: zh.to_owned(),
        }
    }
}

impl Verdict {
    /// Retake when anything is wrong, else accept.
    pub fn for_issues(issues: &[Issue]) -> Self {
        if issues.is_empty() {
            Verdict::Accept
        } else {
            Verdict::Retake
        }
    }
}

/// Where the subject sits, normalised to 0..1 of the width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NormalizedBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl NormalizedBox {
    /// Share of the frame the box covers.
    pub fn area(&self) -> f64 {
        self.w * self.h
    }

    /// Area of the overlap with `other`.
    pub fn intersection(&self, other: &NormalizedBox) -> f64 {
        let w = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let h = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        w.max(0.0) * h.max(0.0)
    }

    /// Overlap with `other` over their union (0 when both are empty).
    pub fn iou(&self, other: &NormalizedBox) -> f64 {
        let overlap = self.intersection(other);
        let union = self.area() + other.area() - overlap;
        if union > 0.0 { overlap / union } else { 0.0 }
    }

    /// Distance to each frame edge (left, top, right, bottom), as a share of the frame.
    pub fn margins(&self) -> [f64; 4] {
        [self.x, self.y, 1.0 - self.x - self.w, 1.0 - self.y - self.h]
    }
}

/// The full report on one photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoReport {
    /// Accept or retake.
    pub verdict: Verdict,
    /// Every problem found; empty when accepted.
    pub issues: Vec<Issue>,
    /// Everything measured, by name (e.g. `sharpness`, `mean_luma`, `clipped_high_share`).
    /// The line and screen-outline metrics (`tilt_degrees`..., `recapture_score`...) are absent
    /// when the profile skips `tilted` or `recapture`: those steps are not run.
    pub metrics: BTreeMap<String, f64>,
    /// The estimated subject box; `None` when no distinct subject was found.
    pub subject_box: Option<NormalizedBox>,
    /// Pixel width after EXIF orientation.
    pub width: u32,
    /// Pixel height after EXIF orientation.
    pub height: u32,
    /// SHA-256 (hex) of the photo's bytes as received.
    pub sha256: String,
    /// Perceptual hash (hex) used to find duplicates.
    pub perceptual_hash: String,
    /// SHA-256 (hex) of the earlier photo this one duplicates, when it does.
    pub duplicate_of: Option<String>,
    /// Milliseconds the checks took.
    pub check_ms: u32,
}

impl PhotoReport {
    /// The reason codes found, in report order.
    pub fn reasons(&self) -> impl Iterator<Item = Reason> + '_ {
        self.issues.iter().map(|issue| issue.reason)
    }

    /// What the hub keeps of an accepted photo to find later duplicates.
    pub fn fingerprint(&self) -> crate::Fingerprint {
        crate::Fingerprint {
            sha256: self.sha256.clone(),
            perceptual_hash: self.perceptual_hash.clone(),
        }
    }
}
