//! Exposure (mean luma, clipped shares) and glare (compact saturated highlights).
//!
//! # Exposure
//!
//! Luma is Rec.601 (what OpenCV's BGR→grey conversion computes), 0–255, on the working copy.
//! A photo is `underexposed` when its mean luma is below `min_mean_luma`, and `overexposed`
//! when its mean luma is above `max_mean_luma` or when more than `max_clipped_share` of its
//! pixels are clipped white (luma ≥ 250) *outside* any glare blob: overexposure washes out
//! large parts of the frame, whereas a glare blob is a single local highlight and is reported
//! as glare instead. Shares of the frame do not depend on resolution.
//!
//! # Glare
//!
//! A specular reflection of a compact light source (sun, flash, lamp) on a smooth surface is a
//! compact, convex, fully saturated blob with a soft rim, lying *on* the subject rather than
//! running out of the frame like a bright sky or a window does. So the clipped pixels
//! (luma ≥ 250) are split into connected regions; a region is glare when it
//!
//! - does not touch the frame's edge (skies, windows and lamps cut by the frame do),
//! - is shaped like an ellipse: its overlap (IoU) with the ellipse fitted to its outline is at
//!   least 0.85 (clipped white paint or paper follows the object's edges, not an ellipse),
//! - covers more than `max_glare_share` of the frame.
//!
//! The largest such region's share is reported as `glare_share`.

use opencv::core::{self, Mat, Point, Scalar, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;

/// Luma at and above which a pixel counts as clipped white.
pub(crate) const CLIPPED_HIGH: u8 = 250;
/// Luma at and below which a pixel counts as crushed black.
const CLIPPED_LOW: u8 = 5;
/// Smallest ellipse IoU for a clipped region to count as a specular highlight.
const GLARE_MIN_ELLIPSE_IOU: f64 = 0.85;
/// Regions smaller than this share of the frame are not examined (speed; never glare).
const GLARE_MIN_EXAMINED: f64 = 0.002;

/// Luma statistics of the working copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exposure {
    /// Mean luma, 0–255.
    pub mean_luma: f64,
    /// Median luma, 0–255.
    pub median_luma: f64,
    /// Share of pixels at luma ≥ 250.
    pub clipped_high_share: f64,
    /// Share of pixels at luma ≤ 5.
    pub clipped_low_share: f64,
}

/// Computes luma statistics of a grey 8-bit image.
pub(crate) fn measure_exposure(gray: &Mat) -> Result<Exposure, QualityError> {
    let data = gray.data_bytes()?;
    let mut histogram = [0u64; 256];
    for &value in data {
        histogram[usize::from(value)] += 1;
    }
    let total = data.len().max(1) as f64;
    let mean_luma = histogram
        .iter()
        .enumerate()
        .map(|(value, &count)| value as f64 * count as f64)
        .sum::<f64>()
        / total;
    let mut seen = 0u64;
    let mut median_luma = 255.0;
    for (value, &count) in histogram.iter().enumerate() {
        seen += count;
        if seen as f64 >= total / 2.0 {
            median_luma = value as f64;
            break;
        }
    }
    let high: u64 = histogram[usize::from(CLIPPED_HIGH)..].iter().sum();
    let low: u64 = histogram[..=usize::from(CLIPPED_LOW)].iter().sum();
    Ok(Exposure {
        mean_luma,
        median_luma,
        clipped_high_share: high as f64 / total,
        clipped_low_share: low as f64 / total,
    })
}

/// The largest compact saturated highlight found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Glare {
    /// Its share of the frame (0 when none).
    pub share: f64,
    /// IoU of the region with its fitted ellipse.
    pub ellipse_iou: f64,
    /// Centre, normalised 0..1.
    pub centre: (f64, f64),
}

/// Finds the largest elliptical clipped region that does not touch the frame's edge.
pub(crate) fn find_glare(gray: &Mat) -> Result<Glare, QualityError> {
    let (width, height) = (gray.cols(), gray.rows());
    let frame = f64::from(width) * f64::from(height);
    let mut clipped = Mat::default();
    imgproc::threshold(
        gray,
        &mut clipped,
        f64::from(CLIPPED_HIGH) - 0.5,
        255.0,
        imgproc::THRESH_BINARY,
    )?;
    let (mut labels, mut stats, mut centroids) = (Mat::default(), Mat::default(), Mat::default());
    let count = imgproc::connected_components_with_stats(
        &clipped,
        &mut labels,
        &mut stats,
        &mut centroids,
        8,
        core::CV_32S,
    )?;
    let mut best = Glare::default();
    for label in 1..count {
        let stat =
            |column: i32| -> Result<i32, QualityError> { Ok(*stats.at_2d::<i32>(label, column)?) };
        let (x, y, w, h, area) = (
            stat(imgproc::CC_STAT_LEFT)?,
            stat(imgproc::CC_STAT_TOP)?,
            stat(imgproc::CC_STAT_WIDTH)?,
            stat(imgproc::CC_STAT_HEIGHT)?,
            stat(imgproc::CC_STAT_AREA)?,
        );
        let share = f64::from(area) / frame;
        let touches_edge = x == 0 || y == 0 || x + w == width || y + h == height;
        if touches_edge || share < GLARE_MIN_EXAMINED || share <= best.share {
            continue;
        }
        let ellipse_iou = ellipse_overlap(&labels, label, core::Rect::new(x, y, w, h), area)?;
        if ellipse_iou >= GLARE_MIN_ELLIPSE_IOU {
            best = Glare {
                share,
                ellipse_iou,
                centre: (
                    (f64::from(x) + f64::from(w) / 2.0) / f64::from(width),
                    (f64::from(y) + f64::from(h) / 2.0) / f64::from(height),
                ),
            };
        }
    }
    Ok(best)
}

/// IoU between one labelled region and the ellipse fitted to its outer contour.
fn ellipse_overlap(
    labels: &Mat,
    label: i32,
    bounds: core::Rect,
    area: i32,
) -> Result<f64, QualityError> {
    // Work in a padded window around the region so the ellipse may overhang it.
    let pad = bounds.width.max(bounds.height) / 2 + 2;
    let window = core::Rect::new((bounds.x - pad).max(0), (bounds.y - pad).max(0), 0, 0);
    let window = core::Rect::new(
        window.x,
        window.y,
        (bounds.x + bounds.width + pad).min(labels.cols()) - window.x,
        (bounds.y + bounds.height + pad).min(labels.rows()) - window.y,
    );
    let region_labels = Mat::roi(labels, window)?;
    let mut mask = Mat::default();
    core::compare(
        &region_labels,
        &Scalar::all(f64::from(label)),
        &mut mask,
        core::CMP_EQ,
    )?;
    let mut contours = Vector::<Vector<Point>>::new();
    imgproc::find_contours(
        &mask,
        &mut contours,
        imgproc::RETR_EXTERNAL,
        imgproc::CHAIN_APPROX_NONE,
        Point::new(0, 0),
    )?;
    let Some(outline) = contours.iter().max_by_key(|contour| contour.len()) else {
        return Ok(0.0);
    };
    if outline.len() < 5 {
        return Ok(0.0);
    }
    let ellipse = imgproc::fit_ellipse(&outline)?;
    let mut drawn = Mat::zeros(mask.rows(), mask.cols(), core::CV_8U)?.to_mat()?;
    imgproc::ellipse_rotated_rect(&mut drawn, ellipse, Scalar::all(255.0), -1, imgproc::LINE_8)?;
    let ellipse_area = core::count_non_zero(&drawn)?;
    let mut both = Mat::default();
    core::bitwise_and(&drawn, &mask, &mut both, &core::no_array())?;
    let intersection = core::count_non_zero(&both)?;
    let union = area + ellipse_area - intersection;
    Ok(if union > 0 {
        f64::from(intersection) / f64::from(union)
    } else {
        0.0
    })
}
