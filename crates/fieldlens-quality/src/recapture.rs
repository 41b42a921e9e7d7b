//! Recapture: a photo of a screen rather than of the thing itself.
//!
//! A screen photographed from a normal distance shows up as a large convex quadrilateral whose
//! interior is lit from within, framed by a dark bezel: the interior is much brighter than a
//! thin ring just outside it. The detector looks for that outline:
//!
//! 1. Canny edges on the blurred grey working copy (two threshold pairs, for dim and bright
//!    screens), dilated by one pixel so the outline closes;
//! 2. outer contours whose convex hull simplifies (Douglas–Peucker, 3% of the perimeter) to a
//!    quadrilateral covering 4–97% of the frame;
//! 3. for each, the mean luma of the interior (eroded) and of a ring outside it 4% of the quad's
//!    size wide.
//!
//! `recapture_score` = (interior − ring) / 80, clamped to 0..1, taken only where the ring is
//! dark (mean luma ≤ 65, a bezel rather than a wall), over the best quadrilateral.

use opencv::core::{self, Mat, Point, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;

/// Smallest share of the frame a screen outline must cover.
const MIN_AREA: f64 = 0.04;
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
            if imgproc::contour_area_def(&contour)? < MIN_AREA * frame {
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
            let contrast = bezel_contrast(gray, &quad, share * frame)?;
            let Some((interior, ring)) = contrast else {
                continue;
            };
            let score = if ring <= MAX_BEZEL_LUMA {
                ((interior - ring) / FULL_CONTRAST).clamp(0.0, 1.0)
            } else {
                0.0
            };
            if score > best.score {
                best = Recapture {
                    score,
                    outline_share: share,
                    bezel_contrast: interior - ring,
                };
            }
        }
    }
    Ok(best)
}

/// Mean luma inside the quadrilateral (eroded) and in a ring just outside it.
fn bezel_contrast(
    gray: &Mat,
    quad: &Vector<Point>,
    area: f64,
) -> Result<Option<(f64, f64)>, QualityError> {
    let mut mask = Mat::zeros(gray.rows(), gray.cols(), core::CV_8U)?.to_mat()?;
    let polygons = Vector::<Vector<Point>>::from_iter([quad.clone()]);
    imgproc::fill_poly_def(&mut mask, &polygons, Scalar::all(255.0))?;
    let side = ((0.04 * area.sqrt()).round() as i32).max(3);
    let kernel = Mat::ones(side, side, core::CV_8U)?.to_mat()?;
    let (mut inner, mut outer) = (Mat::default(), Mat::default());
    imgproc::erode_def(&mask, &mut inner, &kernel)?;
    imgproc::dilate_def(&mask, &mut outer, &kernel)?;
    let mut ring = Mat::default();
    core::subtract_def(&outer, &mask, &mut ring)?;
    if core::count_non_zero(&inner)? < 10 || core::count_non_zero(&ring)? < 10 {
        return Ok(None);
    }
    let inside = core::mean(gray, &inner)?[0];
    let around = core::mean(gray, &ring)?[0];
    Ok(Some((inside, around)))
}
