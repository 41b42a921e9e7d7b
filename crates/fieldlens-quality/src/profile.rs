//! Check profiles: every threshold and limit the checker uses, with defaults, loadable from TOML.
//!
//! A guide step embeds a profile as a TOML table; any field left out keeps its default, and an
//! unknown field is an error (a misspelt threshold must not be silently ignored):
//!
//! ```toml
//! min_megapixels = 1.0
//! max_tilt_degrees = 8.0
//! skip = ["framing"]
//!
//! [target]            # where the subject should sit, normalised to the frame
//! x = 0.1
//! y = 0.2
//! w = 0.8
//! h = 0.6
//! min_fill = 0.25     # share of the frame the subject should cover
//! max_fill = 0.8
//! ```
//!
//! Scores are measured on a working copy of the photo scaled to a fixed size (see the crate
//! docs), so one threshold holds for a 0.8 MP and a 12 MP photo alike.

use serde::{Deserialize, Serialize};

use crate::report::Reason;

/// Every threshold and limit of the photo checks. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckProfile {
    /// Smallest accepted size in megapixels after EXIF orientation (`low_resolution`). Default 0.5.
    pub min_megapixels: f32,
    /// Largest encoded photo accepted, in bytes; larger input is refused before decoding. Default 40 MiB.
    pub max_bytes: u64,
    /// Largest pixel count (width × height) a header may claim; larger is refused before any
    /// pixel is allocated. Default 100 MP.
    pub max_pixels: u64,
    /// Blur: smallest accepted sharpness (`blur`, subtype `defocus`): the smallest, over
    /// directions, ratio of second- to first-derivative energy at the working size (see the
    /// `sharpness` module). Sharp photos score about 1–5. Default 0.2.
    pub min_sharpness: f32,
    /// Blur: blur anisotropy above which blur counts as motion blur (`blur`, subtype `motion`),
    /// judged against twice `min_sharpness` because motion keeps detail across its direction.
    /// Default 0.65.
    pub max_motion_anisotropy: f32,
    /// Smallest accepted mean luma, Rec.601, 0–255 (`underexposed`). Default 60.
    pub min_mean_luma: f32,
    /// Largest accepted mean luma, Rec.601, 0–255 (`overexposed`). Default 215.
    pub max_mean_luma: f32,
    /// Largest accepted share of pixels at luma ≥ 250 outside any glare blob (`overexposed`). Default 0.15.
    pub max_clipped_share: f32,
    /// Largest accepted share of the frame covered by one compact saturated highlight lying
    /// away from the frame's edges (`glare`). Default 0.02.
    pub max_glare_share: f32,
    /// Largest accepted noise level: estimated standard deviation of pixel noise, 8-bit units,
    /// at the working size, counting only spatially white noise (`noise`). Default 3.
    pub max_noise_sigma: f32,
    /// Largest accepted tilt of the dominant straight lines from level, in degrees (`tilted`). Default 10.
    pub max_tilt_degrees: f32,
    /// Smallest accepted share of the frame the subject box covers (`framing`, `too_far`),
    /// used when no `target` is set. Default 0.12.
    pub min_subject_fill: f32,
    /// Largest accepted share of the frame the subject box covers (`framing`, `too_close`),
    /// used when no `target` is set. Default 0.92.
    pub max_subject_fill: f32,
    /// Share of a frame edge the subject mask must cover for the subject to count as running
    /// out of the frame there (with the cells along that edge looking like car); a subject
    /// that runs out on two or more edges, or on one edge that its box reaches (margin under
    /// 2%) where the cells look more like car than not, is `framing` (`cut_off`, or
    /// `too_close` on three or when it also fills more than the largest fill). Default 0.4.
    pub max_edge_contact: f32,
    /// Smallest share of the subject box that must lie inside `target`, when set (`framing`,
    /// `off_target`). Default 0.6.
    pub min_target_overlap: f32,
    /// Largest accepted recapture score, 0–1, the evidence that this is a photo of a screen
    /// or a print (`recapture`). Default 0.5.
    pub max_recapture_score: f32,
    /// Largest Hamming distance, in bits of the 64-bit perceptual hash, at which two photos
    /// count as duplicates (`duplicate`), over the best-aligned pair of the photos' six hashes.
    /// Default 11.
    pub max_duplicate_distance: u32,
    /// Where the subject should sit and how much of the frame it should fill; when absent,
    /// `min_subject_fill`/`max_subject_fill` apply and no position is required.
    pub target: Option<TargetRegion>,
    /// Reason codes this profile does not check (e.g. `["framing"]` for a close-up of a label).
    /// Skipping `tilted` or `recapture` also saves the line or screen-outline search.
    pub skip: Vec<Reason>,
}

impl Default for CheckProfile {
    fn default() -> Self {
        Self {
            min_megapixels: 0.5,
            max_bytes: 40 * 1024 * 1024,
            max_pixels: 100_000_000,
            min_sharpness: 0.2,
            max_motion_anisotropy: 0.65,
            min_mean_luma: 60.0,
            max_mean_luma: 215.0,
            max_clipped_share: 0.15,
            max_glare_share: 0.02,
            max_noise_sigma: 3.0,
            max_tilt_degrees: 10.0,
            min_subject_fill: 0.12,
            max_subject_fill: 0.92,
            max_edge_contact: 0.4,
            min_target_overlap: 0.6,
            max_recapture_score: 0.5,
            max_duplicate_distance: 11,
            target: None,
            skip: Vec::new(),
        }
    }
}

/// Where the subject should sit in the frame (normalised 0..1) and what share of the frame it
/// should fill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRegion {
    /// Left edge, 0..1 of the width.
    pub x: f32,
    /// Top edge, 0..1 of the height.
    pub y: f32,
    /// Width, 0..1 of the width.
    pub w: f32,
    /// Height, 0..1 of the height.
    pub h: f32,
    /// Smallest share of the frame the subject box should cover, 0..1.
    pub min_fill: f32,
    /// Largest share of the frame the subject box should cover, 0..1.
    pub max_fill: f32,
}

/// A profile or target value that cannot be used; names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// A field is outside the range it must lie in (or is not a finite number).
    #[error("{field} = {value} is out of range: expected {expected}")]
    OutOfRange {
        /// The offending field, e.g. `target.w` or `min_sharpness`.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The range it must lie in, in words.
        expected: &'static str,
    },
    /// Two fields that bound a range are in the wrong order.
    #[error("{low_field} ({low}) must not exceed {high_field} ({high})")]
    Inverted {
        /// The field giving the lower bound.
        low_field: &'static str,
        /// Its value.
        low: f64,
        /// The field giving the upper bound.
        high_field: &'static str,
        /// Its value.
        high: f64,
    },
}

fn check_range(
    field: &'static str,
    value: f64,
    min: f64,
    max: f64,
    expected: &'static str,
) -> Result<(), ProfileError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(())
    } else {
        Err(ProfileError::OutOfRange {
            field,
            value,
            expected,
        })
    }
}

fn check_order(
    low_field: &'static str,
    low: f64,
    high_field: &'static str,
    high: f64,
) -> Result<(), ProfileError> {
    if low <= high {
        Ok(())
    } else {
        Err(ProfileError::Inverted {
            low_field,
            low,
            high_field,
            high,
        })
    }
}

const SHARE: &str = "a share between 0 and 1";

impl TargetRegion {
    /// Checks that the region lies inside the frame and that the fill range is sensible.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let inside = "0..1, inside the frame";
        let size = "greater than 0 and at most 1, inside the frame";
        check_range("target.x", self.x.into(), 0.0, 1.0, inside)?;
        check_range("target.y", self.y.into(), 0.0, 1.0, inside)?;
        check_range(
            "target.w",
            self.w.into(),
            1e-3,
            1.0 - f64::from(self.x),
            size,
        )?;
        check_range(
            "target.h",
            self.h.into(),
            1e-3,
            1.0 - f64::from(self.y),
            size,
        )?;
        check_range("target.min_fill", self.min_fill.into(), 0.0, 1.0, SHARE)?;
        check_range("target.max_fill", self.max_fill.into(), 1e-3, 1.0, SHARE)?;
        check_order(
            "target.min_fill",
            self.min_fill.into(),
            "target.max_fill",
            self.max_fill.into(),
        )
    }
}

impl CheckProfile {
    /// Checks every field; the error names the first offending one.
    pub fn validate(&self) -> Result<(), ProfileError> {
        check_range(
            "min_megapixels",
            self.min_megapixels.into(),
            0.0,
            1000.0,
            "0 to 1000 megapixels",
        )?;
        check_range(
            "max_bytes",
            self.max_bytes as f64,
            1.0,
            1e10,
            "1 byte to 10 GB",
        )?;
        check_range(
            "max_pixels",
            self.max_pixels as f64,
            1.0,
            1e10,
            "1 to 10 000 megapixels",
        )?;
        check_order(
            "min_megapixels",
            f64::from(self.min_megapixels) * 1e6,
            "max_pixels",
            self.max_pixels as f64,
        )?;
        check_range(
            "min_sharpness",
            self.min_sharpness.into(),
            0.0,
            100.0,
            "0 to 100",
        )?;
        check_range(
            "max_motion_anisotropy",
            self.max_motion_anisotropy.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        let luma = "a luma between 0 and 255";
        check_range("min_mean_luma", self.min_mean_luma.into(), 0.0, 255.0, luma)?;
        check_range("max_mean_luma", self.max_mean_luma.into(), 0.0, 255.0, luma)?;
        check_order(
            "min_mean_luma",
            self.min_mean_luma.into(),
            "max_mean_luma",
            self.max_mean_luma.into(),
        )?;
        check_range(
            "max_clipped_share",
            self.max_clipped_share.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        check_range(
            "max_glare_share",
            self.max_glare_share.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        check_range(
            "max_noise_sigma",
            self.max_noise_sigma.into(),
            0.0,
            255.0,
            "0 to 255",
        )?;
        check_range(
            "max_tilt_degrees",
            self.max_tilt_degrees.into(),
            0.0,
            45.0,
            "0 to 45 degrees",
        )?;
        check_range(
            "min_subject_fill",
            self.min_subject_fill.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        check_range(
            "max_subject_fill",
            self.max_subject_fill.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        check_order(
            "min_subject_fill",
            self.min_subject_fill.into(),
            "max_subject_fill",
            self.max_subject_fill.into(),
        )?;
        check_range(
            "max_edge_contact",
            self.max_edge_contact.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        check_range(
            "min_target_overlap",
            self.min_target_overlap.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        check_range(
            "max_recapture_score",
            self.max_recapture_score.into(),
            0.0,
            1.0,
            SHARE,
        )?;
        check_range(
            "max_duplicate_distance",
            self.max_duplicate_distance.into(),
            0.0,
            64.0,
            "0 to 64 bits",
        )?;
        match &self.target {
            Some(target) => target.validate(),
            None => Ok(()),
        }
    }

    /// Whether this profile runs the check for `reason`.
    pub fn checks(&self, reason: Reason) -> bool {
        !self.skip.contains(&reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let profile = CheckProfile::default();
        profile.validate().unwrap();
        assert_eq!(profile.min_megapixels, 0.5);
        assert!(profile.target.is_none());
    }

    #[test]
    fn out_of_range_field_is_named() {
        let profile = CheckProfile {
            max_glare_share: 1.5,
            ..CheckProfile::default()
        };
        let error = profile.validate().unwrap_err();
        assert!(error.to_string().contains("max_glare_share"), "{error}");

        let nan = CheckProfile {
            min_sharpness: f32::NAN,
            ..CheckProfile::default()
        };
        assert!(matches!(
            nan.validate(),
            Err(ProfileError::OutOfRange {
                field: "min_sharpness",
                ..
            })
        ));
    }

    #[test]
    fn target_outside_frame_names_field() {
        let target = TargetRegion {
            x: 0.5,
            y: 0.0,
            w: 0.6,
            h: 0.5,
            min_fill: 0.1,
            max_fill: 0.5,
        };
        let error = target.validate().unwrap_err();
        assert!(matches!(
            error,
            ProfileError::OutOfRange {
                field: "target.w",
                ..
            }
        ));

        let inverted = TargetRegion {
            w: 0.4,
            min_fill: 0.6,
            ..target
        };
        let error = CheckProfile {
            target: Some(inverted),
            ..CheckProfile::default()
        }
        .validate()
        .unwrap_err();
        assert!(error.to_string().contains("target.min_fill"), "{error}");
    }

    #[test]
    fn partial_toml_overrides_only_given_fields() {
        let profile: CheckProfile = toml::from_str(
            "min_megapixels = 2.0\nskip = [\"framing\"]\n[target]\nx = 0.1\ny = 0.1\nw = 0.8\nh = 0.8\nmin_fill = 0.2\nmax_fill = 0.9\n",
        )
        .unwrap();
        assert_eq!(profile.min_megapixels, 2.0);
        assert_eq!(
            profile.max_tilt_degrees,
            CheckProfile::default().max_tilt_degrees
        );
        assert!(!profile.checks(Reason::Framing));
        assert_eq!(profile.target.unwrap().max_fill, 0.9);
        profile.validate().unwrap();

        let typo = toml::from_str::<CheckProfile>("min_megapixel = 2.0");
        assert!(typo.unwrap_err().to_string().contains("min_megapixel"));
        let partial_target = toml::from_str::<CheckProfile>("[target]\nx = 0.1");
        assert!(partial_target.is_err());
    }
}
