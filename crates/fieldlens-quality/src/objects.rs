//! Objects in the frame: a pretrained COCO detector (NanoDet-g) run through OpenCV's DNN module.
//!
//! The hand-made cues elsewhere in this crate see outlines, colours and car-like texture; what
//! they cannot do is tell a car covering 6% of the frame from the scenery around it, or a TV
//! from a picture frame. A detector trained on COCO's 118,000 photos does both, and it was not
//! trained on anything of ours, so it carries over to photos never seen.
//!
//! - **Model**: NanoDet-g (RangiLyu/nanodet, Apache-2.0; 3.8 M parameters, 80 COCO classes,
//!   generalised-focal-loss head with strides 8, 16 and 32), in `models/nanodet_g_416.onnx`
//!   (fp32: OpenCV 4.6 reads no fp16 weights); `train/nanodet_to_onnx.py` says where it comes
//!   from and how it was converted. It is compiled into the crate and loaded once per thread
//!   (an OpenCV `Net` is not shareable between threads).
//! - **Input**: the working copy resized to a long side of [`INPUT`] pixels with its aspect
//!   kept (the short side rounded to a multiple of 32), BGR, normalised with the model's
//!   training mean and spread.
//! - **Output**: per cell of each stride, 80 class scores (already sigmoid) and, per box
//!   side, a distribution over 0..10 strides; the distance is its expectation. Candidates
//!   above [`MIN_SCORE`] are kept after per-class non-maximum suppression.
//! - **Scene features**: the same forward pass also yields the network's inner feature maps
//!   (the backbone and the feature pyramid at strides 8, 16 and 32); each channel's mean and
//!   maximum over the frame make [`FEATURES`] numbers that describe what the scene looks like
//!   (the screen look and the tilt look read them, `looks.rs`).

use std::cell::RefCell;

use opencv::core::{self, Mat, Scalar, Size, Vector};
use opencv::dnn;
use opencv::imgproc;
use opencv::prelude::*;

use crate::QualityError;
use crate::report::NormalizedBox;

/// The built-in model.
const MODEL: &[u8] = include_bytes!("../models/nanodet_g_416.onnx");
/// Long side of the network input. The network is fully convolutional, so any multiple of 32
/// works; 256 costs a quarter of the 416 it was trained at (about 12 instead of 60 ms in
/// OpenCV 4.6 on one core), and the dev-set accuracy moves only within the churn between
/// neighbouring sizes (0.925 against 0.928 at 416 with the aspect kept; BENCHMARKS.md).
const INPUT: i32 = 256;
/// Per-channel (B, G, R) mean and spread the model was trained with.
const MEAN: [f64; 3] = [103.53, 116.28, 123.675];
const SPREAD: [f64; 3] = [57.375, 57.12, 58.395];
/// Strides of the three heads, with their score and box-distribution outputs.
const HEADS: [(usize, &str, &str); 3] = [
    (8, "Identity:0", "Identity_3:0"),
    (16, "Identity_1:0", "Identity_4:0"),
    (32, "Identity_2:0", "Identity_5:0"),
];
/// Inner feature maps pooled into the scene features: backbone stages and feature-pyramid
/// levels at strides 8, 16 and 32, with their channel counts.
const INNER: [(&str, usize); 6] = [
    ("onnx_node!PartitionedCall/onnx_tf_prefix_Concat_27", 128),
    ("onnx_node!PartitionedCall/onnx_tf_prefix_Concat_42", 256),
    ("onnx_node!PartitionedCall/onnx_tf_prefix_Concat_62", 512),
    ("onnx_node!PartitionedCall/onnx_tf_prefix_Add_107", 128),
    ("onnx_node!PartitionedCall/onnx_tf_prefix_Add_128", 128),
    ("onnx_node!PartitionedCall/onnx_tf_prefix_Add_149", 128),
];
/// Scene features: the mean and the maximum of every channel of the [`INNER`] maps.
pub const FEATURES: usize = {
    let mut channels = 0;
    let mut map = 0;
    while map < INNER.len() {
        channels += INNER[map].1;
        map += 1;
    }
    2 * channels
};
/// COCO classes.
const CLASSES: usize = 80;
/// Bins of each box side's distance distribution.
const BINS: usize = 11;
/// Weakest class score kept as a candidate.
const MIN_SCORE: f32 = 0.2;
/// Overlap above which the weaker of two boxes of one class is dropped.
const NMS_OVERLAP: f64 = 0.5;

/// COCO class ids (0-based) the checks read.
pub(crate) mod class {
    pub const CAR: usize = 2;
    pub const BUS: usize = 5;
    pub const TRUCK: usize = 7;
    pub const TV: usize = 62;
    pub const LAPTOP: usize = 63;
    pub const CELL_PHONE: usize = 67;
    pub const BOOK: usize = 73;
}

/// One detected object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Detection {
    /// COCO class id, 0-based.
    pub class: usize,
    /// Class score, 0..1.
    pub score: f32,
    /// Box, normalised to the frame and clipped to it.
    pub bbox: NormalizedBox,
}

impl Detection {
    /// A car, bus or truck.
    pub fn is_vehicle(&self) -> bool {
        matches!(self.class, class::CAR | class::BUS | class::TRUCK)
    }

    /// A TV or monitor, a laptop or a phone: a device that shows pictures.
    pub fn is_display(&self) -> bool {
        matches!(self.class, class::TV | class::LAPTOP | class::CELL_PHONE)
    }

    /// Printed matter: COCO's `book` covers books, magazines and sheets of paper.
    pub fn is_printed_matter(&self) -> bool {
        self.class == class::BOOK
    }
}

/// What one pass of the network saw.
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    /// Detected objects, strongest first.
    pub objects: Vec<Detection>,
    /// [`FEATURES`] scene features.
    pub features: Vec<f32>,
}

thread_local! {
    /// The network and the names of the outputs read from it, made on a thread's first photo.
    static NET: RefCell<Option<(dnn::Net, Vector<String>)>> = const { RefCell::new(None) };
}

/// Runs the network on a BGR 8-bit working copy: the objects in it and its scene features.
pub(crate) fn detect(bgr: &Mat) -> Result<Scene, QualityError> {
    let input = input_size(bgr.size()?);
    let blob = input_blob(bgr, input)?;
    let outputs = NET.with(|cell| -> Result<Vector<Mat>, QualityError> {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let net = dnn::read_net_from_onnx_buffer(&Vector::from_slice(MODEL))
                .map_err(|error| QualityError::Model(format!("object detector: {error}")))?;
            let heads = HEADS
                .iter()
                .flat_map(|(_, scores, boxes)| [*scores, *boxes]);
            let inner = INNER.iter().map(|(name, _)| *name);
            *slot = Some((net, heads.chain(inner).collect()));
        }
        let (net, names) = slot.as_mut().expect("loaded above");
        net.set_input(&blob, "", 1.0, Scalar::default())?;
        let mut outputs = Vector::<Mat>::new();
        net.forward(&mut outputs, names)?;
        Ok(outputs)
    })?;
    let mut candidates = Vec::new();
    for (head, (stride, _, _)) in HEADS.iter().enumerate() {
        let scores = outputs.get(2 * head)?;
        let boxes = outputs.get(2 * head + 1)?;
        decode_head(
            input,
            *stride,
            scores.data_typed::<f32>()?,
            boxes.data_typed::<f32>()?,
            &mut candidates,
        )?;
    }
    let mut features = Vec::with_capacity(FEATURES);
    for (index, (name, channels)) in INNER.iter().enumerate() {
        let map = outputs.get(2 * HEADS.len() + index)?;
        pool_channels(name, *channels, map.data_typed::<f32>()?, &mut features)?;
    }
    Ok(Scene {
        objects: suppress(candidates),
        features,
    })
}

/// Appends the mean and the maximum of each channel of an NCHW feature map's values (N = 1):
/// first every mean, then every maximum.
fn pool_channels(
    name: &str,
    channels: usize,
    values: &[f32],
    out: &mut Vec<f32>,
) -> Result<(), QualityError> {
    let cells = values.len() / channels.max(1);
    if cells == 0 || values.len() != cells * channels {
        return Err(QualityError::Model(format!(
            "object detector: inner map {name} holds {} values, not a multiple of {channels} channels",
            values.len()
        )));
    }
    let planes = values.chunks_exact(cells);
    out.extend(
        planes
            .clone()
            .map(|plane| plane.iter().sum::<f32>() / cells as f32),
    );
    out.extend(planes.map(|plane| plane.iter().copied().fold(f32::NEG_INFINITY, f32::max)));
    Ok(())
}

/// Network input for a frame: the long side [`INPUT`], the short side in proportion (rounded
/// to a multiple of the coarsest stride), so objects keep their shape.
fn input_size(frame: Size) -> Size {
    let (long, short) = (frame.width.max(frame.height), frame.width.min(frame.height));
    let coarsest = HEADS[HEADS.len() - 1].0 as f64;
    let scaled = f64::from(INPUT) * f64::from(short) / f64::from(long.max(1));
    let short_input = ((scaled / coarsest).round() * coarsest).max(coarsest) as i32;
    if frame.width >= frame.height {
        Size::new(INPUT, short_input)
    } else {
        Size::new(short_input, INPUT)
    }
}

/// The working copy as the network's normalised NCHW input.
fn input_blob(bgr: &Mat, input: Size) -> Result<Mat, QualityError> {
    let mut resized = Mat::default();
    imgproc::resize(bgr, &mut resized, input, 0.0, 0.0, imgproc::INTER_AREA)?;
    let mut float = Mat::default();
    resized.convert_to_def(&mut float, core::CV_32FC3)?;
    let mut centred = Mat::default();
    core::subtract_def(
        &float,
        &Scalar::new(MEAN[0], MEAN[1], MEAN[2], 0.0),
        &mut centred,
    )?;
    let mut normalised = Mat::default();
    core::divide2_def(
        &centred,
        &Scalar::new(SPREAD[0], SPREAD[1], SPREAD[2], 1.0),
        &mut normalised,
    )?;
    Ok(dnn::blob_from_image(
        &normalised,
        1.0,
        Size::default(),
        Scalar::default(),
        false,
        false,
        core::CV_32F,
    )?)
}

/// Turns one head's outputs into candidate detections.
fn decode_head(
    input: Size,
    stride: usize,
    scores: &[f32],
    boxes: &[f32],
    out: &mut Vec<Detection>,
) -> Result<(), QualityError> {
    let (columns, rows) = (
        input.width as usize / stride,
        input.height as usize / stride,
    );
    let cells = columns * rows;
    if scores.len() != cells * CLASSES || boxes.len() != cells * 4 * BINS {
        return Err(QualityError::Model(format!(
            "object detector: head of stride {stride} gave {} scores and {} box values, expected {} and {}",
            scores.len(),
            boxes.len(),
            cells * CLASSES,
            cells * 4 * BINS
        )));
    }
    let (input_width, input_height) = (f64::from(input.width), f64::from(input.height));
    for cell in 0..cells {
        let row = &scores[cell * CLASSES..(cell + 1) * CLASSES];
        let (class, &score) = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("80 classes");
        if score < MIN_SCORE {
            continue;
        }
        let centre_x = ((cell % columns) as f64 + 0.5) * stride as f64;
        let centre_y = ((cell / columns) as f64 + 0.5) * stride as f64;
        let distance = |side: usize| {
            let bins = &boxes[cell * 4 * BINS + side * BINS..][..BINS];
            expected_bin(bins) * stride as f64
        };
        let (left, top) = (centre_x - distance(0), centre_y - distance(1));
        let (right, bottom) = (centre_x + distance(2), centre_y + distance(3));
        let clip = |v: f64, side: f64| (v / side).clamp(0.0, 1.0);
        let (x0, x1) = (clip(left, input_width), clip(right, input_width));
        let (y0, y1) = (clip(top, input_height), clip(bottom, input_height));
        out.push(Detection {
            class,
            score,
            bbox: NormalizedBox {
                x: x0,
                y: y0,
                w: x1 - x0,
                h: y1 - y0,
            },
        });
    }
    Ok(())
}

/// Expected bin of a softmax over raw bin values.
fn expected_bin(bins: &[f32]) -> f64 {
    let max = bins.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = bins.iter().map(|&v| f64::from(v - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    weights
        .iter()
        .enumerate()
        .map(|(i, w)| i as f64 * w)
        .sum::<f64>()
        / total
}

/// Greedy per-class non-maximum suppression, strongest first.
fn suppress(mut candidates: Vec<Detection>) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for candidate in candidates {
        let overlaps = kept
            .iter()
            .any(|k| k.class == candidate.class && k.bbox.iou(&candidate.bbox) > NMS_OVERLAP);
        if !overlaps {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_bin_of_a_peak_is_its_index() {
        let mut bins = [-20f32; BINS];
        bins[3] = 20.0;
        assert!((expected_bin(&bins) - 3.0).abs() < 1e-6);
        let flat = [0f32; BINS];
        assert!((expected_bin(&flat) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn suppression_keeps_the_stronger_of_two_overlapping_boxes_of_one_class() {
        let bbox = NormalizedBox {
            x: 0.1,
            y: 0.1,
            w: 0.5,
            h: 0.5,
        };
        let shifted = NormalizedBox { x: 0.12, ..bbox };
        let a = Detection {
            class: class::CAR,
            score: 0.4,
            bbox,
        };
        let b = Detection {
            score: 0.6,
            bbox: shifted,
            ..a
        };
        let other_class = Detection {
            class: class::TV,
            ..a
        };
        let kept = suppress(vec![a, b, other_class]);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0], b);
        assert_eq!(kept[1].class, class::TV);
    }

    #[test]
    fn pooling_gives_each_channels_mean_then_each_channels_maximum() {
        let map = [1f32, 3.0, -2.0, -4.0];
        let mut out = Vec::new();
        pool_channels("test", 2, &map, &mut out).unwrap();
        assert_eq!(out, vec![2.0, -3.0, 3.0, -2.0]);
        assert!(pool_channels("test", 3, &map, &mut out).is_err());
    }

    #[test]
    fn the_input_keeps_the_frame_shape_in_multiples_of_the_coarsest_stride() {
        assert_eq!(input_size(Size::new(512, 384)), Size::new(256, 192));
        assert_eq!(input_size(Size::new(287, 510)), Size::new(160, 256));
        assert_eq!(input_size(Size::new(400, 400)), Size::new(256, 256));
        assert_eq!(input_size(Size::new(512, 8)), Size::new(256, 32));
    }

    #[test]
    fn a_flat_grey_frame_holds_no_confident_object() {
        let grey =
            Mat::new_rows_cols_with_default(240, 320, core::CV_8UC3, Scalar::all(128.0)).unwrap();
        let scene = detect(&grey).unwrap();
        assert!(
            scene.objects.iter().all(|d| d.score < 0.35),
            "{:?}",
            scene.objects
        );
        assert_eq!(scene.features.len(), FEATURES);
        assert!(scene.features.iter().all(|v| v.is_finite()));
    }
}
