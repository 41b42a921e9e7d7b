//! Tilt: how far the dominant straight lines are from level.
//!
//! Straight segments are found with OpenCV's LSD line segment detector on the grey working copy, at
//! [`LSD_SCALE`] and without LSD's refinement; segments shorter than 4% of the frame's diagonal are
//! dropped (texture, text). Each segment votes with its length for its angle folded into −45°..45°
//! (so a vertical and a horizontal edge of the same upright structure vote for the same angle).
//!
//! In a photo held level, vertical edges (door frames, pillars, poles, appliance sides) stay
//! vertical whatever the perspective, and horizon and floor lines near the centre stay horizontal,
//! so a clear share of the line length lies within ±3° of the axes. When the camera is rolled,
//! *every* line turns by the same angle: the axis-aligned share collapses and the votes pile up
//! around the roll angle instead. So `tilt_degrees` is the centre of the strongest ±3° window of
//! votes, and the photo is `tilted` when that angle exceeds `max_tilt_degrees` (and stays below
//! [`MAX_JUDGED_DEGREES`]: near ±45° the folded angle cannot tell a roll one way from a roll the
//! other way, or diagonal content from either) **and** fewer than [`MAX_LEVEL_SHARE`] of the votes
//! are axis-aligned **and** the lines carry enough evidence (total length of at least
//! [`MIN_LINE_EVIDENCE`] diagonals) — a close-up of a textured surface, or a scene without lines,
//! is never called tilted.
//!
//! Perspective is this rule's weak spot: a car's body lines converge, so on a car photo the
//! strongest direction can be half the roll or a perspective diagonal. In a vehicle scene the
//! tilt look (`looks.rs`) can therefore call a photo tilted that the lines leave level.

use opencv::core::{Mat, Vec4f, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;

/// Segments shorter than this share of the diagonal are ignored.
const MIN_SEGMENT: f64 = 0.04;
/// Scale at which LSD reads the working copy (OpenCV's default is 0.8). The coarser scale
/// keeps the long structural lines the tilt is read from, drops fine texture and runs in about
/// 60% of the time; LSD's refinement (splitting bent segments) is left off for the same reason.
/// On the dev set it raised F1 for `tilted` from 0.79 to 0.83 (`scripts/eval-quality`).
const LSD_SCALE: f64 = 0.6;
/// Half-width, in degrees, of the window votes are pooled over.
const WINDOW: i32 = 3;
/// Above this share of axis-aligned line length a photo counts as level whatever else it holds.
const MAX_LEVEL_SHARE: f64 = 0.08;
/// Folded angles beyond this are ambiguous and never reported as tilt.
const MAX_JUDGED_DEGREES: f64 = 40.0;
/// Total segment length, in frame diagonals, needed before tilt is judged. A rolled photo whose
/// roll can be read has long lines to read it from: every tilted photo of the dev set, and every
/// photo the checker calls tilted after turning the set's clean car photos by its recipe
/// (`train/tilt_rotations.py`), carries at least 7; a close-up of a table or fabric can carry
/// under 5 and still line up diagonally.
const MIN_LINE_EVIDENCE: f64 = 5.0;

/// Line-orientation measurements.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Tilt {
    /// Signed angle, degrees, of the strongest line direction folded into −45..45
    /// (positive: lines turned clockwise in the image).
    pub degrees: f64,
    /// Share of line length within ±3° of horizontal or vertical.
    pub level_share: f64,
    /// Share of line length within ±3° of `degrees`.
    pub peak_share: f64,
    /// Total length of the segments used, in frame diagonals.
    pub evidence: f64,
}

impl Tilt {
    /// Whether the lines read a roll beyond `max_degrees`: an angle over it yet within
    /// [`MAX_JUDGED_DEGREES`], few axis-aligned lines, and enough line evidence to read it from.
    pub(crate) fn over(&self, max_degrees: f64) -> bool {
        let roll = self.degrees.abs();
        roll > max_degrees
            && roll < MAX_JUDGED_DEGREES
            && self.level_share < MAX_LEVEL_SHARE
            && self.evidence >= MIN_LINE_EVIDENCE
    }
}

/// Measures line orientation on a grey 8-bit image.
pub(crate) fn measure_tilt(gray: &Mat) -> Result<Tilt, QualityError> {
    let diagonal = f64::from(gray.cols()).hypot(f64::from(gray.rows()));
    // OpenCV's defaults apart from the scale and the refinement (sigma scale 0.6, gradient
    // quantisation 2, angle tolerance 22.5°, detection threshold 0, density 0.7, 1024 bins).
    let mut detector = imgproc::create_line_segment_detector(
        imgproc::LSD_REFINE_NONE,
        LSD_SCALE,
        0.6,
        2.0,
        22.5,
        0.0,
        0.7,
        1024,
    )?;
    let mut segments = Vector::<Vec4f>::new();
    detector.detect(
        gray,
        &mut segments,
        &mut opencv::core::no_array(),
        &mut opencv::core::no_array(),
        &mut opencv::core::no_array(),
    )?;
    // Votes per whole degree, folded: index 0 ↔ −45°, 45 ↔ 0°, 89 ↔ 44°.
    let mut votes = [0f64; 90];
    let mut total = 0.0;
    for segment in &segments {
        let (dx, dy) = (
            f64::from(segment[2] - segment[0]),
            f64::from(segment[3] - segment[1]),
        );
        let length = dx.hypot(dy);
        if length < MIN_SEGMENT * diagonal {
            continue;
        }
        let folded = (dy.atan2(dx).to_degrees() + 45.0).rem_euclid(90.0);
        votes[(folded.floor() as usize).min(89)] += length;
        total += length;
    }
    if total <= 0.0 {
        return Ok(Tilt::default());
    }
    let pooled = |centre: i32| -> f64 {
        (-WINDOW..=WINDOW)
            .map(|offset| votes[(centre + offset).rem_euclid(90) as usize])
            .sum()
    };
    let (peak, peak_votes) =
        (0..90)
            .map(|bin| (bin, pooled(bin)))
            .fold(
                (45, f64::MIN),
                |best, next| if next.1 > best.1 { next } else { best },
            );
    // Level: the two bins either side of 0° (−1..0 and 0..1) and ±3° around them.
    let level = (-WINDOW - 1..=WINDOW)
        .map(|offset| votes[(45 + offset) as usize])
        .sum::<f64>();
    Ok(Tilt {
        degrees: f64::from(peak) - 45.0 + 0.5,
        level_share: level / total,
        peak_share: peak_votes / total,
        evidence: total / diagonal,
    })
}
