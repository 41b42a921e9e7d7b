//! Subject extent: where the photographed thing (the car, the appliance) sits in the frame.
//!
//! Classical salient-object estimation on a 96-px copy, from two cues that fail differently:
//!
//! - **Minimum barrier distance to the frame's edge** (Zhang et al., "Minimum Barrier Salient
//!   Object Detection at 80 FPS", 2015): for every pixel, the smallest possible
//!   (max − min) of Lab intensity along any path to the border. Background regions connect to
//!   the border through similar colours (barrier ≈ 0); an object is separated from the border by
//!   its own outline. Computed with raster scans (three passes), per Lab channel, summed.
//! - **Colour contrast to the border**: a 12×12×12-bin Lab histogram of a 6% band along the
//!   edges (background) against one of the central quarter (subject prior) gives each pixel the
//!   probability that its colour belongs to the subject. This still works when the subject runs
//!   out of the frame, where the barrier cue fails.
//!
//! The two maps are averaged, Otsu's threshold separates subject from background, and the box is
//! the 1st–99th percentile range of the above-threshold saliency mass projected onto each axis
//! (robust to stray background blobs, unlike a bounding box of a binary mask). The share of each
//! frame edge the subject mask runs into is kept too: it tells a subject cut off by the frame
//! from one that merely sits near it.

use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;
use crate::report::NormalizedBox;

/// Long side of the copy the subject is estimated on.
const SUBJECT_SIDE: i32 = 96;
/// Histogram levels per Lab channel.
const LEVELS: usize = 12;
/// Width of the border band, as a share of the short side.
const BAND: f64 = 0.06;
/// Share of saliency mass left outside the box on each side.
const TAIL: f64 = 0.01;

/// The estimated subject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Subject {
    /// Box, normalised.
    pub bbox: NormalizedBox,
    /// Share of each frame edge (left, top, right, bottom) covered by the subject mask.
    pub edge_contact: [f64; 4],
    /// Share of the frame covered by the subject mask.
    pub mask_share: f64,
    /// Mean saliency inside the mask minus outside (0..1): how distinct the subject is.
    pub contrast: f64,
}

/// Estimates the subject on a BGR 8-bit image.
pub(crate) fn estimate_subject(bgr: &Mat) -> Result<Subject, QualityError> {
    let (width, height) = (bgr.cols(), bgr.rows());
    let scale = f64::from(SUBJECT_SIDE) / f64::from(width.max(height));
    let size = Size::new(
        ((f64::from(width) * scale).round() as i32).max(8),
        ((f64::from(height) * scale).round() as i32).max(8),
    );
    let mut small = Mat::default();
    imgproc::resize(bgr, &mut small, size, 0.0, 0.0, imgproc::INTER_AREA)?;
    let mut smooth = Mat::default();
    imgproc::gaussian_blur_def(&small, &mut smooth, Size::new(3, 3), 0.0)?;
    let mut lab = Mat::default();
    imgproc::cvt_color_def(&smooth, &mut lab, imgproc::COLOR_BGR2Lab)?;
    let (w, h) = (size.width as usize, size.height as usize);
    let lab = lab.data_bytes()?;

    let barrier = normalised(minimum_barrier(lab, w, h));
    let contrast = colour_contrast(lab, w, h)?;
    let saliency: Vec<f32> = barrier
        .iter()
        .zip(&contrast)
        .map(|(a, b)| 0.5 * (a + b))
        .collect();
    Ok(subject_from_map(&saliency, w, h))
}

fn normalised(mut map: Vec<f32>) -> Vec<f32> {
    let max = map.iter().copied().fold(0f32, f32::max);
    if max > 0.0 {
        map.iter_mut().for_each(|v| *v /= max);
    }
    map
}

/// Minimum barrier distance of every pixel to the frame edge, summed over the Lab channels.
fn minimum_barrier(lab: &[u8], w: usize, h: usize) -> Vec<f32> {
    let mut total = vec![0f32; w * h];
    for channel in 0..3 {
        let value = |i: usize| f32::from(lab[3 * i + channel]);
        let mut distance = vec![f32::INFINITY; w * h];
        let mut high: Vec<f32> = (0..w * h).map(value).collect();
        let mut low = high.clone();
        for y in 0..h {
            for x in 0..w {
                if x == 0 || y == 0 || x == w - 1 || y == h - 1 {
                    distance[y * w + x] = 0.0;
                }
            }
        }
        let mut relax = |i: usize, from: usize| {
            let up = high[from].max(value(i));
            let down = low[from].min(value(i));
            if up - down < distance[i] {
                distance[i] = up - down;
                high[i] = up;
                low[i] = down;
            }
        };
        for pass in 0..3 {
            if pass % 2 == 0 {
                for y in 1..h - 1 {
                    for x in 1..w - 1 {
                        let i = y * w + x;
                        relax(i, i - w);
                        relax(i, i - 1);
                    }
                }
            } else {
                for y in (1..h - 1).rev() {
                    for x in (1..w - 1).rev() {
                        let i = y * w + x;
                        relax(i, i + w);
                        relax(i, i + 1);
                    }
                }
            }
        }
        for (sum, d) in total.iter_mut().zip(&distance) {
            *sum += d;
        }
    }
    total
}

/// Probability that each pixel's colour belongs to the centre rather than the border band.
fn colour_contrast(lab: &[u8], w: usize, h: usize) -> Result<Vec<f32>, QualityError> {
    let bin = |i: usize| {
        let q = |c: usize| usize::from(lab[3 * i + c]) * LEVELS / 256;
        (q(0) * LEVELS + q(1)) * LEVELS + q(2)
    };
    let band = ((BAND * w.min(h) as f64).round() as usize).max(2);
    let mut background = vec![0.5f32; LEVELS.pow(3)];
    let mut centre = vec![0.5f32; LEVELS.pow(3)];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if x < band || y < band || x >= w - band || y >= h - band {
                background[bin(i)] += 1.0;
            }
            if (w / 4..3 * w / 4).contains(&x) && (h / 4..3 * h / 4).contains(&y) {
                centre[bin(i)] += 1.0;
            }
        }
    }
    let (bg_total, centre_total) = (background.iter().sum::<f32>(), centre.iter().sum::<f32>());
    let probability: Vec<f32> = (0..w * h)
        .map(|i| {
            let (f, b) = (centre[bin(i)] / centre_total, background[bin(i)] / bg_total);
            f / (f + b)
        })
        .collect();
    let map = Mat::new_rows_cols_with_data(h as i32, w as i32, &probability)?;
    let mut blurred = Mat::default();
    imgproc::gaussian_blur_def(&map, &mut blurred, Size::new(5, 5), 0.0)?;
    Ok(blurred.data_typed::<f32>()?.to_vec())
}

/// Otsu threshold of a 0..1 map, computed on 256 levels.
fn otsu(map: &[f32]) -> f32 {
    let mut histogram = [0f64; 256];
    for &v in map {
        histogram[(v.clamp(0.0, 1.0) * 255.0) as usize] += 1.0;
    }
    let total: f64 = histogram.iter().sum();
    let sum_all: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, c)| i as f64 * c)
        .sum();
    let (mut weight_low, mut sum_low, mut best, mut threshold) = (0.0, 0.0, -1.0, 0usize);
    for (level, &count) in histogram.iter().enumerate() {
        weight_low += count;
        sum_low += level as f64 * count;
        let weight_high = total - weight_low;
        if weight_low == 0.0 || weight_high == 0.0 {
            continue;
        }
        let (mean_low, mean_high) = (sum_low / weight_low, (sum_all - sum_low) / weight_high);
        let between = weight_low * weight_high * (mean_low - mean_high).powi(2);
        if between > best {
            best = between;
            threshold = level;
        }
    }
    // The upper edge of the low class's last level: values above it are the high class.
    (threshold + 1) as f32 / 255.0
}

fn subject_from_map(map: &[f32], w: usize, h: usize) -> Subject {
    let max = map.iter().copied().fold(0f32, f32::max).max(1e-6);
    let scaled: Vec<f32> = map.iter().map(|v| v / max).collect();
    let threshold = otsu(&scaled);
    let mut columns = vec![0f64; w];
    let mut rows = vec![0f64; h];
    let mut edge = [0usize; 4];
    let (mut inside, mut inside_sum, mut outside_sum) = (0usize, 0f64, 0f64);
    for y in 0..h {
        for x in 0..w {
            let v = scaled[y * w + x];
            let excess = f64::from((v - threshold).max(0.0));
            columns[x] += excess;
            rows[y] += excess;
            if v > threshold {
                inside += 1;
                inside_sum += f64::from(v);
                edge[0] += usize::from(x == 0);
                edge[1] += usize::from(y == 0);
                edge[2] += usize::from(x == w - 1);
                edge[3] += usize::from(y == h - 1);
            } else {
                outside_sum += f64::from(v);
            }
        }
    }
    let outside = w * h - inside;
    let contrast = if inside > 0 && outside > 0 {
        inside_sum / inside as f64 - outside_sum / outside as f64
    } else {
        0.0
    };
    let (x0, x1) = mass_range(&columns);
    let (y0, y1) = mass_range(&rows);
    Subject {
        bbox: NormalizedBox {
            x: x0 as f64 / w as f64,
            y: y0 as f64 / h as f64,
            w: (x1 - x0) as f64 / w as f64,
            h: (y1 - y0) as f64 / h as f64,
        },
        edge_contact: [
            edge[0] as f64 / h as f64,
            edge[1] as f64 / w as f64,
            edge[2] as f64 / h as f64,
            edge[3] as f64 / w as f64,
        ],
        mask_share: inside as f64 / (w * h) as f64,
        contrast,
    }
}

/// The index range holding all but [`TAIL`] of the mass at each end (end exclusive).
fn mass_range(mass: &[f64]) -> (usize, usize) {
    let total: f64 = mass.iter().sum();
    if total <= 0.0 {
        return (0, mass.len());
    }
    let mut running = 0.0;
    let (mut start, mut end) = (None, mass.len());
    for (i, m) in mass.iter().enumerate() {
        running += m;
        if start.is_none() && running / total >= TAIL {
            start = Some(i);
        }
        if running / total >= 1.0 - TAIL {
            end = i + 1;
            break;
        }
    }
    let start = start.unwrap_or(0);
    (start, end.max(start + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core;

    #[test]
    fn mass_range_trims_tails() {
        let mass = [0.0, 0.1, 10.0, 10.0, 1.0, 0.0];
        assert_eq!(mass_range(&mass), (2, 5));
        assert_eq!(mass_range(&[0.0; 4]), (0, 4));
    }

    #[test]
    fn otsu_splits_two_levels() {
        let map: Vec<f32> = (0..100).map(|i| if i < 70 { 0.1 } else { 0.9 }).collect();
        let t = otsu(&map);
        assert!((0.1..0.9).contains(&t), "{t}");
    }

    #[test]
    fn bright_square_on_grey_is_found() {
        let mut image =
            Mat::new_rows_cols_with_default(120, 160, core::CV_8UC3, core::Scalar::all(90.0))
                .unwrap();
        let square = core::Rect::new(50, 30, 60, 50);
        imgproc::rectangle(
            &mut image,
            square,
            core::Scalar::new(30.0, 40.0, 220.0, 0.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let subject = estimate_subject(&image).unwrap();
        let truth = NormalizedBox {
            x: 50.0 / 160.0,
            y: 30.0 / 120.0,
            w: 60.0 / 160.0,
            h: 50.0 / 120.0,
        };
        let overlap = subject.bbox.intersection(&truth);
        let iou = overlap / (subject.bbox.area() + truth.area() - overlap);
        assert!(iou > 0.8, "{subject:?}");
        assert_eq!(subject.edge_contact, [0.0; 4]);
    }
}
