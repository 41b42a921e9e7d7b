//! Connected regions of a binary mask, each as its own mask (shared by glare and screens).

use opencv::core::{self, Mat, Scalar};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;

/// Connected regions of a binary mask of at least `min_area` pixels: each as a full-size mask,
/// its bounding box and its area in pixels.
pub(crate) fn regions(
    mask: &Mat,
    min_area: i32,
) -> Result<Vec<(Mat, core::Rect, i32)>, QualityError> {
    let (mut labels, mut stats, mut centroids) = (Mat::default(), Mat::default(), Mat::default());
    // BBDT (Grana's block-based labelling) by name: on Debian's OpenCV 4.6 on one thread the
    // default (Spaghetti) takes about 0.86 ms on the working copy and BBDT 0.59 ms, with the
    // same regions.
    let count = imgproc::connected_components_with_stats_with_algorithm(
        mask,
        &mut labels,
        &mut stats,
        &mut centroids,
        8,
        core::CV_32S,
        imgproc::CCL_BBDT,
    )?;
    let mut out = Vec::new();
    for label in 1..count {
        let stat =
            |column: i32| -> Result<i32, QualityError> { Ok(*stats.at_2d::<i32>(label, column)?) };
        let area = stat(imgproc::CC_STAT_AREA)?;
        if area < min_area {
            continue;
        }
        let bounds = core::Rect::new(
            stat(imgproc::CC_STAT_LEFT)?,
            stat(imgproc::CC_STAT_TOP)?,
            stat(imgproc::CC_STAT_WIDTH)?,
            stat(imgproc::CC_STAT_HEIGHT)?,
        );
        let mut region = Mat::default();
        core::compare(
            &labels,
            &Scalar::all(f64::from(label)),
            &mut region,
            core::CMP_EQ,
        )?;
        out.push((region, bounds, area));
    }
    Ok(out)
}
