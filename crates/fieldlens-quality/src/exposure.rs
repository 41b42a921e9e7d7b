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
//! compact, convex, fully saturated blob whose light falls off smoothly around it (a halo),
//! lying *on* the subject rather than running out of the frame like a bright sky or a window
//! does. So the clipped pixels (luma ≥ 250) are split into connected regions, and each region
//! is first reduced to its **core**: a morphological opening with a disc of half the region's
//! largest inscribed radius (from its distance transform) cuts off thin clipped stretches —
//! white paint, a chrome strip — that touch the blob, which would otherwise spoil its shape.
//! A core is glare when it
//!
//! - does not touch the frame's edge (skies, windows and lamps cut by the frame do),
//! - is shaped like an ellipse: its overlap (IoU) with the ellipse fitted to its outline is at
//!   least 0.85 (clipped white paint or paper follows the object's edges, not an ellipse),
//! - has a **soft halo**: the ring 2–8 px outside it is bright but not clipped (mean luma below
//!   245) and even (standard deviation at most 35) — the light fading out, not the sharp edge
//!   of a white panel next to dark trim, nor a brighter area the core merely sits in,
//! - covers more than `max_glare_share` of the frame.
//!
//! The largest such core's share is reported as `glare_share`.

use opencv::core::{self, Mat, Point, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;
use crate::regions::regions;

/// Luma at and above which a pixel counts as clipped white.
pub(crate) const CLIPPED_HIGH: u8 = 250;
/// Luma at and below which a pixel counts as crushed black.
const CLIPPED_LOW: u8 = 5;
/// Smallest ellipse IoU for a clipped region to count as a specular highlight.
const GLARE_MIN_ELLIPSE_IOU: f64 = 0.85;
/// Regions smaller than this share of the frame are not examined (speed; never glare).
const GLARE_MIN_EXAMINED: f64 = 0.002;
/// Inner and outer offsets, in pixels of the working copy, of the ring a halo is read in.
const HALO_RING: (i32, i32) = (2, 8);
/// A halo is below this mean luma (not part of a larger clipped area)…
const HALO_MAX_MEAN: f64 = 245.0;
/// …and at most this uneven (no sharp edge next to the highlight).
const HALO_MAX_SPREAD: f64 = 35.0;

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
    /// IoU of its core with the fitted ellipse.
    pub ellipse_iou: f64,
    /// Standard deviation of luma in the ring around it.
    pub halo_spread: f64,
}

/// Finds the largest elliptical clipped core with a soft halo that does not touch the frame's
/// edge.
pub(crate) fn find_glare(gray: &Mat) -> Result<Glare, QualityError> {
    let frame = f64::from(gray.cols()) * f64::from(gray.rows());
    let min_area = (GLARE_MIN_EXAMINED * frame).ceil() as i32;
    let clipped = clipped_mask(gray)?;
    let mut best = Glare::default();
    for (region, bounds, _) in regions(&clipped, min_area)? {
        // Work in a padded window so openings and halos are not cut by the window's edge.
        let pad = HALO_RING.1 + 2;
        let window = padded(bounds, pad, gray);
        let mask = Mat::roi(&region, window)?.try_clone()?;
        let core = core_of(&mask)?;
        let (origin_x, origin_y) = (window.x, window.y);
        for (part, part_bounds, _) in regions(&core, min_area)? {
            let share = f64::from(core::count_non_zero(&part)?) / frame;
            let (x, y) = (origin_x + part_bounds.x, origin_y + part_bounds.y);
            let touches_edge = x == 0
                || y == 0
                || x + part_bounds.width == gray.cols()
                || y + part_bounds.height == gray.rows();
            if touches_edge || share <= best.share {
                continue;
            }
            let ellipse_iou = ellipse_overlap(&part)?;
            if ellipse_iou < GLARE_MIN_ELLIPSE_IOU {
                continue;
            }
            let (halo_mean, halo_spread) = halo(&Mat::roi(gray, window)?.try_clone()?, &part)?;
            if halo_mean < HALO_MAX_MEAN && halo_spread <= HALO_MAX_SPREAD {
                best = Glare {
                    share,
                    ellipse_iou,
                    halo_spread,
                };
            }
        }
    }
    Ok(best)
}

fn clipped_mask(gray: &Mat) -> Result<Mat, QualityError> {
    let mut clipped = Mat::default();
    imgproc::threshold(
        gray,
        &mut clipped,
        f64::from(CLIPPED_HIGH) - 0.5,
        255.0,
        imgproc::THRESH_BINARY,
    )?;
    Ok(clipped)
}

/// `bounds` grown by `pad` on every side, clipped to the image.
fn padded(bounds: core::Rect, pad: i32, image: &Mat) -> core::Rect {
    let (x0, y0) = ((bounds.x - pad).max(0), (bounds.y - pad).max(0));
    let x1 = (bounds.x + bounds.width + pad).min(image.cols());
    let y1 = (bounds.y + bounds.height + pad).min(image.rows());
    core::Rect::new(x0, y0, x1 - x0, y1 - y0)
}

/// The region opened with a disc of half its largest inscribed radius.
fn core_of(mask: &Mat) -> Result<Mat, QualityError> {
    let mut distance = Mat::default();
    imgproc::distance_transform(mask, &mut distance, imgproc::DIST_L2, 5, core::CV_32F)?;
    let mut deepest = 0.0;
    core::min_max_loc(
        &distance,
        None,
        Some(&mut deepest),
        None,
        None,
        &core::no_array(),
    )?;
    let radius = (deepest / 2.0).floor() as i32;
    if radius < 2 {
        return Ok(mask.clone());
    }
    let disc = imgproc::get_structuring_element_def(
        imgproc::MORPH_ELLIPSE,
        Size::new(2 * radius + 1, 2 * radius + 1),
    )?;
    let mut core = Mat::default();
    imgproc::morphology_ex_def(mask, &mut core, imgproc::MORPH_OPEN, &disc)?;
    Ok(core)
}

/// Mean and standard deviation of luma in the ring [`HALO_RING`] pixels outside the mask.
fn halo(gray: &Mat, mask: &Mat) -> Result<(f64, f64), QualityError> {
    let grow = |pixels: i32| -> Result<Mat, QualityError> {
        let kernel = Mat::ones(2 * pixels + 1, 2 * pixels + 1, core::CV_8U)?.to_mat()?;
        let mut out = Mat::default();
        imgproc::dilate_def(mask, &mut out, &kernel)?;
        Ok(out)
    };
    let (inner, outer) = (grow(HALO_RING.0)?, grow(HALO_RING.1)?);
    let mut ring = Mat::default();
    core::subtract_def(&outer, &inner, &mut ring)?;
    let (mut mean, mut spread) = (core::Scalar::default(), core::Scalar::default());
    core::mean_std_dev(gray, &mut mean, &mut spread, &ring)?;
    Ok((mean[0], spread[0]))
}

/// IoU between a region (a binary mask) and the ellipse fitted to its outer contour.
fn ellipse_overlap(mask: &Mat) -> Result<f64, QualityError> {
    let mut contours = Vector::<Vector<Point>>::new();
    imgproc::find_contours(
        mask,
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
    let (mut both, mut either) = (Mat::default(), Mat::default());
    core::bitwise_and(&drawn, mask, &mut both, &core::no_array())?;
    core::bitwise_or(&drawn, mask, &mut either, &core::no_array())?;
    let union = core::count_non_zero(&either)?;
    Ok(if union > 0 {
        f64::from(core::count_non_zero(&both)?) / f64::from(union)
    } else {
        0.0
    })
}
