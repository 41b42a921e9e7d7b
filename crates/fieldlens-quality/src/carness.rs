//! Car-likeness of each cell of the frame: a small learned model of what car bodies look like.
//!
//! Saliency alone assumes the frame's edge is background, so it cannot see a car that runs
//! out of the frame. This module adds an appearance cue: the working copy is shrunk to
//! `SIDE` (160) pixels on the long side and cut into 8×8-pixel cells; each cell is described by
//! 49 numbers — gradient-orientation histograms (9 bins, the cell alone and pooled over its
//! 3×3 and 5×5 neighbourhoods, contrast-normalised like HOG), gradient energy, the Lab mean and
//! spread of the cell and of its neighbourhoods, its colour relative to the whole frame, and its
//! position — and a gradient-boosted tree ensemble gives the probability that the cell shows
//! part of a car.
//!
//! The model (`models/car_cells.gbm`, ~100 depth-limited trees) was trained by
//! `train/train_car_cells.py` on the labelled dev set's car photos: cells inside the annotated
//! car box are positives, cells outside negatives, and every photo also contributes random crops
//! that cut the car (and crops that keep it whole) so that the model learns what a car looks
//! like at the frame's edge rather than that cars never touch it. Photos without cars are
//! negatives throughout. The features are computed by this module both for training (through
//! `examples/training_features.rs`) and at check time, so the two cannot drift apart.
//!
//! `FIELDLENS_CAR_MODEL=path` replaces the built-in model for the whole process; it exists so
//! that the evaluation can score each half of the dev set with a model trained on the other half.

use std::sync::OnceLock;

use opencv::core::{self, Mat, Rect};
use opencv::imgproc;
use opencv::prelude::*;

use crate::decode::shrink_to;
use crate::{CheckProfile, QualityError};

/// Long side, in pixels, of the copy the cells are cut from.
pub(crate) const SIDE: u32 = 160;
/// Cell side in pixels.
const CELL: usize = 8;
/// Gradient-orientation bins over 0..π.
const BINS: usize = 9;
/// Numbers describing one cell.
pub const FEATURES: usize = 49;
/// Fewer cells than this along either axis and no map is made (a thumbnail, not a photo).
const MIN_CELLS: usize = 3;

/// The built-in model.
const BUILT_IN: &str = include_str!("../models/car_cells.gbm");

/// Per-cell features of one photo, row-major.
#[derive(Debug, Clone, Default)]
pub struct CellFeatures {
    /// Cell rows.
    pub rows: usize,
    /// Cell columns.
    pub cols: usize,
    /// `rows · cols` feature vectors.
    pub cells: Vec<[f32; FEATURES]>,
}

/// Probability, per cell, that the cell shows part of a car.
#[derive(Debug, Clone, Default)]
pub(crate) struct CarMap {
    pub rows: usize,
    pub cols: usize,
    pub probability: Vec<f32>,
}

impl CarMap {
    /// Mean probability along each frame edge (left, top, right, bottom), corners left out.
    pub fn edge_means(&self) -> [f64; 4] {
        if self.rows < MIN_CELLS || self.cols < MIN_CELLS {
            return [0.0; 4];
        }
        let at = |row: usize, col: usize| f64::from(self.probability[row * self.cols + col]);
        let column = |col: usize| (1..self.rows - 1).map(|row| at(row, col)).sum::<f64>();
        let row = |row: usize| (1..self.cols - 1).map(|col| at(row, col)).sum::<f64>();
        let (inner_rows, inner_cols) = ((self.rows - 2) as f64, (self.cols - 2) as f64);
        [
            column(0) / inner_rows,
            row(0) / inner_cols,
            column(self.cols - 1) / inner_rows,
            row(self.rows - 1) / inner_cols,
        ]
    }

    /// Share of cells more likely car than not.
    pub fn share(&self) -> f64 {
        if self.probability.is_empty() {
            return 0.0;
        }
        self.probability.iter().filter(|&&p| p > 0.5).count() as f64 / self.probability.len() as f64
    }
}

/// Decodes a photo as [`crate::check_photo`] does and computes its cell features (for training).
pub fn photo_cell_features(
    bytes: &[u8],
    profile: &CheckProfile,
) -> Result<CellFeatures, QualityError> {
    cell_features(&crate::decode::decode(bytes, profile)?.bgr)
}

/// Computes the cell features of a BGR 8-bit working copy.
pub(crate) fn cell_features(bgr: &Mat) -> Result<CellFeatures, QualityError> {
    let small = shrink_to(bgr, SIDE)?;
    let (rows, cols) = (small.rows() as usize / CELL, small.cols() as usize / CELL);
    if rows < MIN_CELLS || cols < MIN_CELLS {
        return Ok(CellFeatures::default());
    }
    let (height, width) = (rows * CELL, cols * CELL);
    let crop = Mat::roi(&small, Rect::new(0, 0, width as i32, height as i32))?.try_clone()?;
    let mut gray = Mat::default();
    imgproc::cvt_color_def(&crop, &mut gray, imgproc::COLOR_BGR2GRAY)?;
    let derivative = |dx: i32, dy: i32| -> Result<Mat, QualityError> {
        let mut out = Mat::default();
        imgproc::sobel(
            &gray,
            &mut out,
            core::CV_32F,
            dx,
            dy,
            1,
            1.0,
            0.0,
            core::BORDER_REFLECT_101,
        )?;
        Ok(out)
    };
    let (gx, gy) = (derivative(1, 0)?, derivative(0, 1)?);
    let (gx, gy) = (gx.data_typed::<f32>()?, gy.data_typed::<f32>()?);
    let mut lab = Mat::default();
    imgproc::cvt_color_def(&crop, &mut lab, imgproc::COLOR_BGR2Lab)?;
    let lab = lab.data_bytes()?;

    let n = rows * cols;
    let mut hist = vec![[0f32; BINS]; n];
    let mut colour_sum = vec![[0f32; 3]; n];
    let mut colour_sq = vec![[0f32; 3]; n];
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            let cell = (y / CELL) * cols + x / CELL;
            let magnitude = gx[i].hypot(gy[i]);
            let angle = gy[i].atan2(gx[i]).rem_euclid(std::f32::consts::PI) / std::f32::consts::PI
                * BINS as f32;
            let lower = angle.floor();
            let fraction = angle - lower;
            let bin = (lower as usize) % BINS;
            hist[cell][bin] += magnitude * (1.0 - fraction);
            hist[cell][(bin + 1) % BINS] += magnitude * fraction;
            for c in 0..3 {
                let v = f32::from(lab[3 * i + c]);
                colour_sum[cell][c] += v;
                colour_sq[cell][c] += v * v;
            }
        }
    }
    let per_cell = (CELL * CELL) as f32;
    let colour_mean: Vec<[f32; 3]> = colour_sum
        .iter()
        .map(|sum| sum.map(|v| v / per_cell))
        .collect();
    let colour_spread: Vec<[f32; 3]> = colour_sq
        .iter()
        .zip(&colour_mean)
        .map(|(sq, mean)| {
            std::array::from_fn(|c| (sq[c] / per_cell - mean[c] * mean[c]).max(0.0).sqrt())
        })
        .collect();
    let energy: Vec<f32> = hist.iter().map(|h| h.iter().sum()).collect();
    let mut frame_colour = [0f32; 3];
    for mean in &colour_mean {
        for c in 0..3 {
            frame_colour[c] += mean[c] / n as f32;
        }
    }

    let mut cells = vec![[0f32; FEATURES]; n];
    for row in 0..rows {
        for col in 0..cols {
            let features = &mut cells[row * cols + col];
            let mut k = 0;
            let mut push = |value: f32| {
                features[k] = value;
                k += 1;
            };
            for radius in [1isize, 2] {
                let mut block = [0f32; BINS];
                let (mut block_energy, mut block_colour) = (0f32, [0f32; 3]);
                for dy in -radius..=radius {
                    for dx in -radius..=radius {
                        // Edge cells repeat outwards, as the neighbourhood runs off the grid.
                        let r = (row as isize + dy).clamp(0, rows as isize - 1) as usize;
                        let c = (col as isize + dx).clamp(0, cols as isize - 1) as usize;
                        let j = r * cols + c;
                        for b in 0..BINS {
                            block[b] += hist[j][b];
                        }
                        block_energy += energy[j];
                        for ch in 0..3 {
                            block_colour[ch] += colour_mean[j][ch];
                        }
                    }
                }
                let count = ((2 * radius + 1) * (2 * radius + 1)) as f32;
                let norm = block.iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-3;
                for value in block {
                    push((value / norm).min(0.4));
                }
                push(block_energy / (count * per_cell));
                for value in block_colour {
                    push(value / count);
                }
            }
            let i = row * cols + col;
            let norm = hist[i].iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-3;
            for value in hist[i] {
                push(value / norm);
            }
            for value in colour_mean[i] {
                push(value);
            }
            for value in colour_spread[i] {
                push(value);
            }
            push(energy[i] / per_cell);
            for c in 0..3 {
                push(colour_mean[i][c] - frame_colour[c]);
            }
            let cx = (col as f32 + 0.5) / cols as f32;
            let cy = (row as f32 + 0.5) / rows as f32;
            push(cx);
            push(cy);
            push(cx.min(1.0 - cx));
            push(cy.min(1.0 - cy));
            debug_assert_eq!(k, FEATURES);
        }
    }
    Ok(CellFeatures { rows, cols, cells })
}

/// The car-likeness map of a BGR 8-bit working copy.
pub(crate) fn car_map(bgr: &Mat) -> Result<CarMap, QualityError> {
    let features = cell_features(bgr)?;
    let model = model()?;
    Ok(CarMap {
        rows: features.rows,
        cols: features.cols,
        probability: features
            .cells
            .iter()
            .map(|cell| model.probability(cell))
            .collect(),
    })
}

/// One node of a regression tree: a split, or a leaf when `feature` is `None`.
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: Option<usize>,
    threshold: f32,
    left: usize,
    right: usize,
    value: f32,
}

/// A gradient-boosted ensemble of regression trees for a binary decision (log-odds summed).
#[derive(Debug, Clone)]
struct Model {
    baseline: f32,
    trees: Vec<Vec<Node>>,
}

impl Model {
    /// Parses the text format written by `train/train_car_cells.py`:
    ///
    /// ```text
    /// gbm <features> <baseline log-odds> <trees>
    /// tree <nodes>
    /// <feature|-1> <threshold> <left> <right> <value>     (one line per node, root first)
    /// ```
    ///
    /// Lines starting with `#` are comments. A value `x[feature] <= threshold` goes left.
    fn parse(text: &str) -> Result<Model, String> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'));
        let header: Vec<&str> = lines
            .next()
            .ok_or("empty model")?
            .split_whitespace()
            .collect();
        let number = |field: &str, what: &str| -> Result<f64, String> {
            field
                .parse::<f64>()
                .map_err(|_| format!("{what}: {field:?} is not a number"))
        };
        if header.len() != 4 || header[0] != "gbm" {
            return Err("the first line must be `gbm <features> <baseline> <trees>`".into());
        }
        if number(header[1], "feature count")? as usize != FEATURES {
            return Err(format!(
                "the model expects {} features, not {FEATURES}",
                header[1]
            ));
        }
        let baseline = number(header[2], "baseline")? as f32;
        let tree_count = number(header[3], "tree count")? as usize;
        let mut trees = Vec::with_capacity(tree_count);
        for t in 0..tree_count {
            let head: Vec<&str> = lines
                .next()
                .ok_or(format!("tree {t} is missing"))?
                .split_whitespace()
                .collect();
            if head.len() != 2 || head[0] != "tree" {
                return Err(format!("tree {t}: expected `tree <nodes>`"));
            }
            let count = number(head[1], "node count")? as usize;
            let mut nodes = Vec::with_capacity(count);
            for i in 0..count {
                let fields: Vec<&str> = lines
                    .next()
                    .ok_or(format!("tree {t} ends before node {i}"))?
                    .split_whitespace()
                    .collect();
                if fields.len() != 5 {
                    return Err(format!("tree {t} node {i}: expected 5 fields"));
                }
                let feature = number(fields[0], "feature")?;
                let (left, right) = (
                    number(fields[2], "left")? as usize,
                    number(fields[3], "right")? as usize,
                );
                let feature = if feature < 0.0 {
                    None
                } else if (feature as usize) < FEATURES && left < count && right < count {
                    Some(feature as usize)
                } else {
                    return Err(format!("tree {t} node {i}: feature or child out of range"));
                };
                nodes.push(Node {
                    feature,
                    threshold: number(fields[1], "threshold")? as f32,
                    left,
                    right,
                    value: number(fields[4], "value")? as f32,
                });
            }
            // Children must come after their parent, so every walk ends at a leaf.
            if nodes
                .iter()
                .enumerate()
                .any(|(i, node)| node.feature.is_some() && (node.left <= i || node.right <= i))
            {
                return Err(format!("tree {t}: a child precedes its parent"));
            }
            trees.push(nodes);
        }
        Ok(Model { baseline, trees })
    }

    fn probability(&self, features: &[f32; FEATURES]) -> f32 {
        let mut log_odds = self.baseline;
        for tree in &self.trees {
            let mut i = 0;
            while let Some(feature) = tree[i].feature {
                i = if features[feature] <= tree[i].threshold {
                    tree[i].left
                } else {
                    tree[i].right
                };
            }
            log_odds += tree[i].value;
        }
        1.0 / (1.0 + (-log_odds).exp())
    }
}

fn model() -> Result<&'static Model, QualityError> {
    static MODEL: OnceLock<Result<Model, String>> = OnceLock::new();
    crate::weights::load(
        &MODEL,
        "car-likeness cells",
        "FIELDLENS_CAR_MODEL",
        BUILT_IN,
        Model::parse,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_model_parses() {
        let model = Model::parse(BUILT_IN).unwrap();
        assert!(!model.trees.is_empty());
    }

    #[test]
    fn model_walks_to_leaves_and_sums_log_odds() {
        let text = "# two stumps\ngbm 49 0.5 2\ntree 3\n0 1.0 1 2 0\n-1 0 0 0 -1\n-1 0 0 0 2\n\
                    tree 1\n-1 0 0 0 0.25\n";
        let model = Model::parse(text).unwrap();
        let mut features = [0f32; FEATURES];
        let p = model.probability(&features);
        assert!((p - 1.0 / (1.0 + (0.25f32).exp())).abs() < 1e-6, "{p}");
        features[0] = 2.0;
        let p = model.probability(&features);
        assert!((p - 1.0 / (1.0 + (-2.75f32).exp())).abs() < 1e-6, "{p}");
    }

    #[test]
    fn malformed_models_are_refused() {
        for text in [
            "",
            "gbm 48 0 0",
            "gbm 49 0 1\ntree 1\n0 1 0 0 0",
            "gbm 49 0 1\ntree 2\n0 1 1 5 0\n-1 0 0 0 1",
            "gbm 49 x 0",
        ] {
            assert!(Model::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn edge_means_skip_corners() {
        let map = CarMap {
            rows: 3,
            cols: 4,
            probability: vec![
                1.0, 0.0, 0.0, 1.0, //
                0.5, 0.0, 0.0, 1.0, //
                1.0, 1.0, 1.0, 1.0,
            ],
        };
        assert_eq!(map.edge_means(), [0.5, 0.0, 1.0, 1.0]);
        assert!((map.share() - 7.0 / 12.0).abs() < 1e-12);
    }
}
