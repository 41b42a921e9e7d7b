//! Blur (defocus and motion) and noise, measured on the grey working copy.
//!
//! # Blur: directional curvature-to-slope ratio
//!
//! For a direction θ, let `E1(θ)` be the mean squared first derivative along θ and `E2(θ)` the
//! mean squared second derivative along θ (Sobel 3×3 derivatives on the 512-px working copy,
//! summed over the 32-px tiles that hold any structure). Both are quadratic forms in the
//! gradient and the Hessian, so they are known for every θ from nine image-wide sums.
//!
//! The ratio `E2(θ)/E1(θ)` says how much of the image's detail along θ sits at the finest
//! scale: blur of any kind removes fine detail first, so the ratio falls, while contrast,
//! exposure and image content cancel out (both terms scale with contrast²). A sharp photo keeps
//! a high ratio in *every* direction; defocus lowers it in all directions; motion blur lowers
//! it along the motion only. So:
//!
//! - `sharpness` = min over θ of the ratio (36 directions) — low for either kind of blur;
//! - `blur_anisotropy` = 1 − min/max of the ratio — near 1 for motion blur, lower for
//!   defocus, which is how the report tells `motion` from `defocus`.
//!
//! Measuring at a fixed 512-px long side makes the score independent of the camera's
//! resolution: it judges the blur a person sees when the whole photo fills a phone screen.
//!
//! # Noise: fine-scale energy that is spatially white
//!
//! Immerkær's operator (the 3×3 mask `[1 −2 1; −2 4 −2; 1 −2 1]`) responds to noise and to
//! fine texture alike. Halving the image (2×2 averaging) halves the standard deviation of white
//! noise but leaves the response to natural texture, whose spectrum falls as 1/f, about the
//! same. Per 16-px block, `σ² = (e_full² − e_half²)·4/3` therefore keeps the white part only;
//! the reported `noise_sigma` is the square root of the median over blocks (8-bit units at the
//! working size). Foliage, fabric and gravel read as texture, not noise.

use opencv::core::{self, Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;

/// Side of the tiles over which the blur measure is summed.
const BLUR_TILE: usize = 32;
/// Side of the blocks over which noise is estimated.
const NOISE_BLOCK: usize = 16;
/// Number of directions sampled for the blur measure.
const DIRECTIONS: usize = 36;

/// Blur measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BlurMeasure {
    /// Minimum over directions of the curvature-to-slope ratio.
    pub sharpness: f64,
    /// 1 − min/max of that ratio over directions.
    pub anisotropy: f64,
}

fn sobel(gray: &Mat, dx: i32, dy: i32, scale: f64) -> Result<Mat, QualityError> {
    let mut out = Mat::default();
    imgproc::sobel(
        gray,
        &mut out,
        core::CV_32F,
        dx,
        dy,
        3,
        scale,
        0.0,
        core::BORDER_REFLECT_101,
    )?;
    Ok(out)
}

/// Measures blur on a grey 8-bit image.
pub(crate) fn measure_blur(gray: &Mat) -> Result<BlurMeasure, QualityError> {
    let (width, height) = (gray.cols() as usize, gray.rows() as usize);
    let ix = sobel(gray, 1, 0, 1.0 / 8.0)?;
    let iy = sobel(gray, 0, 1, 1.0 / 8.0)?;
    let ixx = sobel(gray, 2, 0, 1.0 / 4.0)?;
    let iyy = sobel(gray, 0, 2, 1.0 / 4.0)?;
    let ixy = sobel(gray, 1, 1, 1.0 / 4.0)?;
    let (ix, iy) = (ix.data_typed::<f32>()?, iy.data_typed::<f32>()?);
    let (ixx, iyy, ixy) = (
        ixx.data_typed::<f32>()?,
        iyy.data_typed::<f32>()?,
        ixy.data_typed::<f32>()?,
    );

    // Image-wide sums over structured tiles: gradient moments and Hessian moments.
    let mut gradient = [0f64; 3]; // xx, xy, yy
    let mut hessian = [0f64; 6]; // AA, AB, AC, BB, BC, CC with A=ixx, B=ixy, C=iyy
    for ty in 0..height / BLUR_TILE {
        for tx in 0..width / BLUR_TILE {
            let mut g = [0f64; 3];
            let mut h = [0f64; 6];
            for y in ty * BLUR_TILE..(ty + 1) * BLUR_TILE {
                let row = y * width;
                for x in tx * BLUR_TILE..(tx + 1) * BLUR_TILE {
                    let i = row + x;
                    let (gx, gy) = (f64::from(ix[i]), f64::from(iy[i]));
                    let (a, b, c) = (f64::from(ixx[i]), f64::from(ixy[i]), f64::from(iyy[i]));
                    g[0] += gx * gx;
                    g[1] += gx * gy;
                    g[2] += gy * gy;
                    h[0] += a * a;
                    h[1] += a * b;
                    h[2] += a * c;
                    h[3] += b * b;
                    h[4] += b * c;
                    h[5] += c * c;
                }
            }
            let n = (BLUR_TILE * BLUR_TILE) as f64;
            // Flat tiles (sky, walls) carry no information about focus.
            let strongest =
                0.5 * (g[0] + g[2] + ((g[0] - g[2]).powi(2) + 4.0 * g[1] * g[1]).sqrt());
            if strongest / n < 1.0 {
                continue;
            }
            for k in 0..3 {
                gradient[k] += g[k];
            }
            for k in 0..6 {
                hessian[k] += h[k];
            }
        }
    }
    if gradient[0] + gradient[2] <= 0.0 {
        // No structure at all (a blank wall, a lens cap): nothing in focus.
        return Ok(BlurMeasure {
            sharpness: 0.0,
            anisotropy: 0.0,
        });
    }
    let (mut low, mut high) = (f64::INFINITY, 0f64);
    for k in 0..DIRECTIONS {
        let theta = std::f64::consts::PI * k as f64 / DIRECTIONS as f64;
        let (c, s) = (theta.cos(), theta.sin());
        let slope = c * c * gradient[0] + 2.0 * c * s * gradient[1] + s * s * gradient[2];
        // Second derivative along θ: c²·A + 2cs·B + s²·C.
        let v = [c * c, 2.0 * c * s, s * s];
        let [aa, ab, ac, bb, bc, cc] = hessian;
        let curvature = v[0] * v[0] * aa
            + v[1] * v[1] * bb
            + v[2] * v[2] * cc
            + 2.0 * (v[0] * v[1] * ab + v[0] * v[2] * ac + v[1] * v[2] * bc);
        let ratio = curvature / slope.max(1e-9);
        low = low.min(ratio);
        high = high.max(ratio);
    }
    Ok(BlurMeasure {
        sharpness: low,
        anisotropy: if high > 0.0 { 1.0 - low / high } else { 0.0 },
    })
}

/// Mean absolute Immerkær response per block of `block` pixels, scaled to a noise σ.
fn immerkaer_blocks(gray: &Mat, block: usize) -> Result<(Vec<f64>, usize), QualityError> {
    let kernel = Mat::from_slice_2d(&[[1f32, -2., 1.], [-2., 4., -2.], [1., -2., 1.]])?;
    let mut response = Mat::default();
    imgproc::filter_2d(
        gray,
        &mut response,
        core::CV_32F,
        &kernel,
        core::Point::new(-1, -1),
        0.0,
        core::BORDER_REFLECT_101,
    )?;
    let width = response.cols() as usize;
    let (bw, bh) = (width / block, response.rows() as usize / block);
    let data = response.data_typed::<f32>()?;
    let scale = (std::f64::consts::PI / 2.0).sqrt() / 6.0 / (block * block) as f64;
    let mut blocks = vec![0f64; bw * bh];
    for by in 0..bh {
        for y in by * block..(by + 1) * block {
            let row = &data[y * width..y * width + bw * block];
            for (bx, cell) in blocks[by * bw..(by + 1) * bw].iter_mut().enumerate() {
                *cell += row[bx * block..(bx + 1) * block]
                    .iter()
                    .map(|v| f64::from(v.abs()))
                    .sum::<f64>();
            }
        }
    }
    blocks.iter_mut().for_each(|v| *v *= scale);
    Ok((blocks, bw))
}

/// Estimates the white-noise σ (8-bit units) of a grey 8-bit image.
pub(crate) fn measure_noise(gray: &Mat) -> Result<f64, QualityError> {
    let step = 2 * NOISE_BLOCK as i32;
    let (width, height) = (gray.cols() / step * step, gray.rows() / step * step);
    if width == 0 || height == 0 {
        return Ok(0.0);
    }
    let cropped = Mat::roi(gray, core::Rect::new(0, 0, width, height))?.try_clone()?;
    let mut half = Mat::default();
    imgproc::resize(
        &cropped,
        &mut half,
        Size::new(width / 2, height / 2),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )?;
    let (full, full_cols) = immerkaer_blocks(&cropped, NOISE_BLOCK)?;
    let (halved, half_cols) = immerkaer_blocks(&half, NOISE_BLOCK / 2)?;
    debug_assert_eq!(full_cols, half_cols);
    let mut white: Vec<f64> = full
        .iter()
        .zip(&halved)
        .map(|(e1, e2)| ((e1 * e1 - e2 * e2) * 4.0 / 3.0).max(0.0))
        .collect();
    Ok(median(&mut white).sqrt())
}

/// Median of a non-empty slice (0 when empty); reorders the slice.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    let (_, value, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    *value
}
