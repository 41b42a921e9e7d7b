//! Recapture: a photo of a screen rather than of the thing itself.
//!
//! A screen photographed from a normal distance shows up as a convex quadrilateral lying inside
//! the frame whose picture is set off by a dark bezel — and it is a light source, so its
//! picture is brighter than the bezel and usually than what surrounds it. Two detectors look
//! for that shape, and the stronger evidence counts:
//!
//! - **outline with a dark bezel**: Canny edges on the blurred grey working copy (two threshold
//!   pairs, for dim and bright screens), dilated by one pixel so the outline closes; outer
//!   contours whose convex hull simplifies (Douglas–Peucker, 3% of the perimeter) to a
//!   quadrilateral; scored (interior − bezel) / 80 when the bezel is dark (mean luma ≤ 65),
//!   the bezel being the darkest of three rings just outside the outline, 1%, 2% and 4% of
//!   the quad's size wide (a thin phone or monitor bezel is a few pixels; a wider ring alone
//!   reaches past it into the lit room);
//! - **lit rectangle**: the pixels above the 50th, 60th … 90th luma percentile are split into
//!   connected regions; a region not touching the frame's edge whose hull simplifies to a
//!   quadrilateral it fills to at least 85% scores (interior − ring) / 140 — a screen is the
//!   light source of its scene.
//!
//! Either way the quadrilateral must cover at least [`MIN_AREA`] of the frame (a photo taken to
//! pass off a screen shows it prominently; a small bright rectangle is a window, a label or a
//! picture on the wall) and its interior must be an evenly lit picture: a luma spread of at
//! most [`MAX_INTERIOR_SPREAD`]. A display's picture, photographed with the exposure set for the
//! room, spans a limited range; a quadrilateral drawn around a real object (a white car body
//! with black tyres and shadows) spans the whole range.
//!
//! `recapture_score` is the larger score, 0..1. Both cues describe the geometry and photometry
//! of an emissive display, not any particular device, so they carry over to phones, tablets,
//! monitors and TVs; what they cannot see is a screen filling the whole frame (no outline) or
//! a printout (no light of its own): the detector's displays and printed pages cover those
//! (`engine.rs`). What they cannot tell is a screen from another lit or
//! framed rectangle, so their finding counts only when the scene also looks like a screen
//! (`looks.rs`).

use opencv::core::{self, Mat, Point, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;
use crate::regions::regions;

/// Smallest share of the frame a screen outline must cover.
const MIN_AREA: f64 = 0.1;
/// Contours enclosing less than this share of the frame are not examined (speed).
const MIN_CONTOUR: f64 = 0.04;
/// Largest luma standard deviation inside a screen's picture.
const MAX_INTERIOR_SPREAD: f64 = 65.0;
/// Largest share (a quadrilateral that is the whole frame is not an outline).
const MAX_AREA: f64 = 0.97;
/// Brightest ring that still counts as a bezel.
const MAX_BEZEL_LUMA: f64 = 65.0;
/// Interior-minus-bezel luma difference that gives a score of 1.
const FULL_CONTRAST: f64 = 80.0;

/// Screen-outline evidence.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Recapture {
    /// 0..1 evidence that the photo shows a screen.
    pub score: f64,
    /// Share of the frame covered by the best outline (0 when none).
    pub outline_share: f64,
    /// Its interior minus ring luma.
    pub bezel_contrast: f64,
}

/// Looks for a lit screen outline on a grey 8-bit image.
pub(crate) fn measure_recapture(gray: &Mat) -> Result<Recapture, QualityError> {
    let frame = f64::from(gray.cols()) * f64::from(gray.rows());
    let mut blurred = Mat::default();
    imgproc::gaussian_blur_def(gray, &mut blurred, Size::new(5, 5), 0.0)?;
    let kernel = Mat::ones(3, 3, core::CV_8U)?.to_mat()?;
    let mut best = Recapture::default();
    for (low, high) in [(30.0, 90.0), (60.0, 180.0)] {
        let mut edges = Mat::default();
        imgproc::canny_def(&blurred, &mut edges, low, high)?;
        let mut closed = Mat::default();
        imgproc::dilate_def(&edges, &mut closed, &kernel)?;
        let mut contours = Vector::<Vector<Point>>::new();
        imgproc::find_contours_def(
            &closed,
            &mut contours,
            imgproc::RETR_LIST,
            imgproc::CHAIN_APPROX_SIMPLE,
        )?;
        for contour in &contours {
            // Cheap first cut; the quadrilateral's own area decides below.
            if imgproc::contour_area_def(&contour)? < MIN_CONTOUR * frame {
                continue;
            }
            let mut hull = Vector::<Point>::new();
            imgproc::convex_hull_def(&contour, &mut hull)?;
            let mut quad = Vector::<Point>::new();
            let epsilon = 0.03 * imgproc::arc_length(&hull, true)?;
            imgproc::approx_poly_dp(&hull, &mut quad, epsilon, true)?;
            if quad.len() != 4 {
                continue;
            }
            let share = imgproc::contour_area_def(&quad)? / frame;
            if !(MIN_AREA..=MAX_AREA).contains(&share) {
                continue;
            }
            let Some(rings) = bezel_contrast(gray, &quad, share * frame)? else {
                continue;
            };
            if rings.interior_spread > MAX_INTERIOR_SPREAD {
                continue;
            }
            let bezel = rings.bezel;
            let score = if bezel <= MAX_BEZEL_LUMA {
                ((rings.interior - bezel) / FULL_CONTRAST).clamp(0.0, 1.0)
            } else {
                0.0
            };
            if score > best.score {
                best = Recapture {
                    score,
                    outline_share: share,
                    bezel_contrast: rings.interior - bezel,
                };
            }
        }
    }
    let lit = lit_rectangle(&blurred, gray)?;
    if lit.score > best.score {
        best = lit;
    }
    Ok(best)
}

/// Interior-minus-ring luma difference of a lit rectangle that gives a score of 1.
const LIT_FULL_CONTRAST: f64 = 140.0;
/// Smallest share of its quadrilateral a lit region must fill.
const LIT_MIN_FILL: f64 = 0.85;

/// Looks for a bright, rectangular region inside the frame (a screen lighting its scene).
fn lit_rectangle(blurred: &Mat, gray: &Mat) -> Result<Recapture, QualityError> {
    let (width, height) = (blurred.cols(), blurred.rows());
    let frame = f64::from(width) * f64::from(height);
    let data = blurred.data_bytes()?;
    let mut histogram = [0usize; 256];
    for &value in data {
        histogram[usize::from(value)] += 1;
    }
    let kernel = Mat::ones(3, 3, core::CV_8U)?.to_mat()?;
    let mut best = Recapture::default();
    for percentile in [50, 60, 70, 80, 90] {
        let wanted = data.len() * percentile / 100;
        let mut seen = 0;
        let level = histogram
            .iter()
            .position(|&count| {
                seen += count;
                seen >= wanted
            })
            .unwrap_or(255);
        let (mut bright, mut opened) = (Mat::default(), Mat::default());
        imgproc::threshold(
            blurred,
            &mut bright,
            level as f64,
            255.0,
            imgproc::THRESH_BINARY,
        )?;
        imgproc::morphology_ex_def(&bright, &mut opened, imgproc::MORPH_OPEN, &kernel)?;
        let min_area = (MIN_AREA * frame).ceil() as i32;
        for (region, bounds, area) in regions(&opened, min_area)? {
            let touches_edge = bounds.x == 0
                || bounds.y == 0
                || bounds.x + bounds.width == width
                || bounds.y + bounds.height == height;
            let area = f64::from(area);
            if touches_edge || area / frame > 0.9 {
                continue;
            }
            let mut contours = Vector::<Vector<Point>>::new();
            imgproc::find_contours_def(
                &region,
                &mut contours,
                imgproc::RETR_EXTERNAL,
                imgproc::CHAIN_APPROX_SIMPLE,
            )?;
            let Some(outline) = contours.iter().max_by_key(|contour| contour.len()) else {
                continue;
            };
            let mut hull = Vector::<Point>::new();
            imgproc::convex_hull_def(&outline, &mut hull)?;
            let mut quad = Vector::<Point>::new();
            let epsilon = 0.04 * imgproc::arc_length(&hull, true)?;
            imgproc::approx_poly_dp(&hull, &mut quad, epsilon, true)?;
            let quad_area = imgproc::contour_area_def(&quad)?;
            if quad.len() != 4 || area < LIT_MIN_FILL * quad_area {
                continue;
            }
            let Some(rings) = bezel_contrast(gray, &quad, quad_area)? else {
                continue;
            };
            if rings.interior_spread > MAX_INTERIOR_SPREAD {
                continue;
            }
            let (interior, ring) = (rings.interior, rings.outside);
            let score = ((interior - ring) / LIT_FULL_CONTRAST).clamp(0.0, 1.0);
            if score > best.score {
                best = Recapture {
                    score,
                    outline_share: quad_area / frame,
                    bezel_contrast: interior - ring,
                };
            }
        }
    }
    Ok(best)
}

/// Luma statistics of a quadrilateral and the ring just outside its outline.
struct Rings {
    /// Mean luma of the interior (the quadrilateral eroded by the ring width).
    interior: f64,
    /// Standard deviation of luma in the interior.
    interior_spread: f64,
    /// Mean luma of the ring just outside the outline.
    outside: f64,
    /// Mean luma of the darkest of the rings just outside the outline (see
    /// [`RING`] and [`THIN_BEZEL_RINGS`]).
    bezel: f64,
}

/// Width, as a share of the quadrilateral's size, of the ring just outside it (and of the
/// band inside it that the interior statistics leave out).
const RING: f64 = 0.04;

/// Widths, as shares of the quadrilateral's size, of the thinner rings also searched for a
/// bezel: a thin bezel (phones, current monitors) is a band of a few pixels, and the
/// [`RING`] alone reaches past it into the lit room.
const THIN_BEZEL_RINGS: [f64; 2] = [0.01, 0.02];

/// The band `side` pixels wide just outside `mask`.
fn ring_outside(mask: &Mat, side: i32) -> Result<Mat, QualityError> {
    let kernel = Mat::ones(side, side, core::CV_8U)?.to_mat()?;
    let (mut grown, mut ring) = (Mat::default(), Mat::default());
    imgproc::dilate_def(mask, &mut grown, &kernel)?;
    core::subtract_def(&grown, mask, &mut ring)?;
    Ok(ring)
}

/// Interior and ring statistics of a quadrilateral; `None` when it is too thin to have them.
fn bezel_contrast(
    gray: &Mat,
    quad: &Vector<Point>,
    area: f64,
) -> Result<Option<Rings>, QualityError> {
    let mut mask = Mat::zeros(gray.rows(), gray.cols(), core::CV_8U)?.to_mat()?;
    let polygons = Vector::<Vector<Point>>::from_iter([quad.clone()]);
    imgproc::fill_poly_def(&mut mask, &polygons, Scalar::all(255.0))?;
    let side = ((RING * area.sqrt()).round() as i32).max(3);
    let kernel = Mat::ones(side, side, core::CV_8U)?.to_mat()?;
    let mut inner = Mat::default();
    imgproc::erode_def(&mask, &mut inner, &kernel)?;
    let ring_out = ring_outside(&mask, side)?;
    if core::count_non_zero(&inner)? < 10 || core::count_non_zero(&ring_out)? < 10 {
        return Ok(None);
    }
    let (mut mean, mut spread) = (Scalar::default(), Scalar::default());
    core::mean_std_dev(gray, &mut mean, &mut spread, &inner)?;
    let outside = core::mean(gray, &ring_out)?[0];
    // The bezel is the darkest of the rings: the wide one above and the thin ones.
    let mut bezel = outside;
    for width in THIN_BEZEL_RINGS {
        let ring = ring_outside(&mask, ((width * area.sqrt()).round() as i32).max(2))?;
        if core::count_non_zero(&ring)? >= 10 {
            bezel = bezel.min(core::mean(gray, &ring)?[0]);
        }
    }
    Ok(Some(Rings {
        interior: mean[0],
        interior_spread: spread[0],
        outside,
        bezel,
    }))
}
