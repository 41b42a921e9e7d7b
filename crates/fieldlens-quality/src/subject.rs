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
//! The two maps are averaged into the saliency map; its contrast (mean inside minus outside the
//! Otsu mask) says whether the scene has a distinct subject at all.
//!
//! Both cues assume the frame's edge is background, so the subject's extent is then refined
//! with a third cue that does not: the learned car-likeness of each cell ([`crate::carness`]).
//! The mean of the saliency and car-likeness maps seeds **GrabCut** (Rother et al. 2004):
//! above 0.8 sure subject, above 0.5 probably subject, below 0.15 sure background, probably
//! background otherwise; one round of colour-model fitting and graph cut gives the subject
//! mask (more rounds cost 4 ms each and did not improve the box on the dev set). The box is
//! the 1st–99th percentile range of the mask projected onto each axis (robust to stray
//! specks). Per frame edge, the share covered by the mask and the mean
//! car-likeness along it say where the subject runs out of the frame.

use opencv::core::{self, Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;
use crate::carness::{self, CarMap};
use crate::report::NormalizedBox;

/// Long side of the copy the subject is estimated on.
const SUBJECT_SIDE: i32 = 96;
/// Histogram levels per Lab channel.
const LEVELS: usize = 12;
/// Width of the border band, as a share of the short side.
const BAND: f64 = 0.06;
/// Share of saliency mass left outside the box on each side.
const TAIL: f64 = 0.01;

/// Seed levels of the blended map for GrabCut: sure subject, probable subject, sure background.
const SURE_SUBJECT: f32 = 0.8;
const PROBABLE_SUBJECT: f32 = 0.5;
const SURE_BACKGROUND: f32 = 0.15;
/// GrabCut iterations.
const GRABCUT_ITERATIONS: i32 = 1;

/// The estimated subject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Subject {
    /// Box of the subject mask, normalised.
    pub bbox: NormalizedBox,
    /// Share of the frame covered by the saliency map's own box (before the refinement).
    pub salient_fill: f64,
    /// Share of each frame edge (left, top, right, bottom; corners left out) covered by the
    /// subject mask.
    pub edge_contact: [f64; 4],
    /// Mean car-likeness along each frame edge (left, top, right, bottom).
    pub car_edge: [f64; 4],
    /// Share of the frame's cells that look more like car than not.
    pub car_share: f64,
    /// Share of the frame covered by the subject mask.
    pub mask_share: f64,
    /// Mean saliency inside its Otsu mask minus outside (0..1): how distinct the subject is.
    pub contrast: f64,
}

impl Subject {
    /// Frame edges the subject runs out of: the mask covers at least `min_contact` of the edge
    /// and the cells along it look like car (mean car-likeness at least [`MIN_CAR_EDGE`]).
    /// Returns the number of such edges and the smallest mask contact among the two strongest.
    pub fn cut_edges(&self, min_contact: f64) -> (usize, f64) {
        let mut cut: Vec<f64> = (0..4)
            .filter(|&side| {
                self.edge_contact[side] >= min_contact && self.car_edge[side] >= MIN_CAR_EDGE
            })
            .map(|side| self.edge_contact[side])
            .collect();
        cut.sort_by(|a, b| b.total_cmp(a));
        (cut.len(), cut.get(1).copied().unwrap_or(0.0))
    }

    /// The mask contact of the strongest frame edge the subject plainly runs out of on its
    /// own: its box reaches the edge (margin below [`MIN_MARGIN`]), the mask covers at least
    /// `min_contact` of it and the cells along it look more like car than not (mean
    /// car-likeness at least [`CLEAR_CAR_EDGE`]).
    pub fn clear_cut_edge(&self, min_contact: f64) -> Option<f64> {
        let margins = self.bbox.margins();
        (0..4)
            .filter(|&side| {
                margins[side] < MIN_MARGIN
                    && self.edge_contact[side] >= min_contact
                    && self.car_edge[side] >= CLEAR_CAR_EDGE
            })
            .map(|side| self.edge_contact[side])
            .max_by(f64::total_cmp)
    }
}

/// Smallest mean car-likeness along a frame edge for the subject to count as running out of it
/// when it also runs out of another edge.
pub(crate) const MIN_CAR_EDGE: f64 = 0.4;
/// Smallest mean car-likeness along a frame edge for one edge alone to show the subject cut.
const CLEAR_CAR_EDGE: f64 = 0.5;
/// A subject box closer than this share of the frame to an edge reaches it (a well-framed
/// subject keeps a margin).
const MIN_MARGIN: f64 = 0.02;

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
    let saliency = normalised(
        barrier
            .iter()
            .zip(&contrast)
            .map(|(a, b)| 0.5 * (a + b))
            .collect(),
    );
    let salient = subject_from_map(&saliency, w, h);
    let car = carness::car_map(bgr)?;
    let seed = blend(&saliency, &car, size)?;
    let mask = segment(&smooth, &seed)?;
    let bbox = box_of_mask(&mask, w, h).unwrap_or(salient.bbox);
    Ok(Subject {
        bbox,
        salient_fill: salient.bbox.area(),
        edge_contact: mask_edges(&mask, w, h),
        car_edge: car.edge_means(),
        car_share: car.share(),
        mask_share: mask.iter().filter(|&&inside| inside).count() as f64 / (w * h) as f64,
        contrast: salient.contrast,
    })
}

/// Mean of the saliency map and the car-likeness map resized to it (saliency alone when the
/// photo is too small for a car map).
fn blend(saliency: &[f32], car: &CarMap, size: Size) -> Result<Vec<f32>, QualityError> {
    if car.probability.is_empty() {
        return Ok(saliency.to_vec());
    }
    let cells = Mat::new_rows_cols_with_data(car.rows as i32, car.cols as i32, &car.probability)?;
    let mut resized = Mat::default();
    imgproc::resize(&cells, &mut resized, size, 0.0, 0.0, imgproc::INTER_LINEAR)?;
    Ok(saliency
        .iter()
        .zip(resized.data_typed::<f32>()?)
        .map(|(s, c)| 0.5 * (s + c))
        .collect())
}

/// GrabCut seeded by the blended map; the seed's own threshold when GrabCut has nothing to
/// work with (no sure background or no subject).
fn segment(bgr: &Mat, seed: &[f32]) -> Result<Vec<bool>, QualityError> {
    let fallback = || seed.iter().map(|&v| v > PROBABLE_SUBJECT).collect();
    let labels: Vec<u8> = seed
        .iter()
        .map(|&v| {
            let label = if v > SURE_SUBJECT {
                imgproc::GC_FGD
            } else if v > PROBABLE_SUBJECT {
                imgproc::GC_PR_FGD
            } else if v < SURE_BACKGROUND {
                imgproc::GC_BGD
            } else {
                imgproc::GC_PR_BGD
            };
            label as u8
        })
        .collect();
    let is_subject = |label: u8| i32::from(label) & 1 == 1; // FGD = 1, PR_FGD = 3
    if labels.iter().all(|&l| is_subject(l)) || !labels.iter().any(|&l| is_subject(l)) {
        return Ok(fallback());
    }
    let mut mask = Mat::new_rows_cols_with_data(bgr.rows(), bgr.cols(), &labels)?.try_clone()?;
    let (mut background, mut foreground) = (Mat::default(), Mat::default());
    // GrabCut seeds its colour models with k-means++, which draws from the thread's RNG: fix
    // it so that the same photo always gives the same mask.
    core::set_rng_seed(0x5eed)?;
    let cut = imgproc::grab_cut(
        bgr,
        &mut mask,
        core::Rect::default(),
        &mut background,
        &mut foreground,
        GRABCUT_ITERATIONS,
        imgproc::GC_INIT_WITH_MASK,
    );
    if cut.is_err() {
        // Degenerate colour statistics (e.g. a flat image): keep the seed.
        return Ok(fallback());
    }
    Ok(mask.data_bytes()?.iter().map(|&l| is_subject(l)).collect())
}

/// Share of each frame edge (left, top, right, bottom; corners left out) inside the mask.
fn mask_edges(mask: &[bool], w: usize, h: usize) -> [f64; 4] {
    if w < 3 || h < 3 {
        return [0.0; 4];
    }
    let share = |cells: &mut dyn Iterator<Item = usize>, n: usize| {
        cells.filter(|&i| mask[i]).count() as f64 / n as f64
    };
    [
        share(&mut (1..h - 1).map(|y| y * w), h - 2),
        share(&mut (1..w - 1), w - 2),
        share(&mut (1..h - 1).map(|y| y * w + w - 1), h - 2),
        share(&mut (1..w - 1).map(|x| (h - 1) * w + x), w - 2),
    ]
}

/// The mask's box, trimmed by [`TAIL`] of its mass on each side; `None` for an empty mask.
fn box_of_mask(mask: &[bool], w: usize, h: usize) -> Option<NormalizedBox> {
    let mut columns = vec![0f64; w];
    let mut rows = vec![0f64; h];
    for (i, _) in mask.iter().enumerate().filter(|(_, inside)| **inside) {
        columns[i % w] += 1.0;
        rows[i / w] += 1.0;
    }
    if rows.iter().sum::<f64>() == 0.0 {
        return None;
    }
    let (x0, x1) = mass_range(&columns);
    let (y0, y1) = mass_range(&rows);
    Some(NormalizedBox {
        x: x0 as f64 / w as f64,
        y: y0 as f64 / h as f64,
        w: (x1 - x0) as f64 / w as f64,
        h: (y1 - y0) as f64 / h as f64,
    })
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

/// The saliency map's own verdict: its box and how distinct its subject is.
struct Salient {
    bbox: NormalizedBox,
    contrast: f64,
}

/// Box (saliency mass above the Otsu threshold, tails trimmed) and contrast of a 0..1 map.
fn subject_from_map(map: &[f32], w: usize, h: usize) -> Salient {
    let threshold = otsu(map);
    let mut columns = vec![0f64; w];
    let mut rows = vec![0f64; h];
    let (mut inside, mut inside_sum, mut outside_sum) = (0usize, 0f64, 0f64);
    for y in 0..h {
        for x in 0..w {
            let v = map[y * w + x];
            let excess = f64::from((v - threshold).max(0.0));
            columns[x] += excess;
            rows[y] += excess;
            if v > threshold {
                inside += 1;
                inside_sum += f64::from(v);
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
    Salient {
        bbox: NormalizedBox {
            x: x0 as f64 / w as f64,
            y: y0 as f64 / h as f64,
            w: (x1 - x0) as f64 / w as f64,
            h: (y1 - y0) as f64 / h as f64,
        },
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
        assert!(subject.bbox.iou(&truth) > 0.8, "{subject:?}");
        assert_eq!(subject.edge_contact, [0.0; 4]);
        assert_eq!(subject.cut_edges(0.3).0, 0);
    }
}
