//! Why a photo could not be checked at all (as opposed to a photo that was checked and needs a retake).

use crate::profile::ProfileError;

/// A photo that cannot be checked. Every variant says what was wrong with the input.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// The input holds no bytes.
    #[error("the photo is empty (0 bytes)")]
    Empty,
    /// The input is larger than the profile's `max_bytes`; refused before decoding.
    #[error("the photo is {bytes} bytes, over the limit of {limit} bytes")]
    TooManyBytes {
        /// Size of the input.
        bytes: u64,
        /// The profile's `max_bytes`.
        limit: u64,
    },
    /// The header claims more pixels than the profile's `max_pixels`; refused before any pixel
    /// is allocated.
    #[error("the header claims {width}x{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels {
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
        /// The profile's `max_pixels`.
        limit: u64,
    },
    /// The header claims a width or height of zero.
    #[error("the header claims an empty image ({width}x{height})")]
    ZeroSize {
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
    },
    /// The bytes are not a JPEG, PNG or WebP photo.
    #[error("unsupported format: {0} (expected JPEG, PNG or WebP)")]
    UnsupportedFormat(String),
    /// The data ends before the image does (e.g. an interrupted upload).
    #[error("the {format} data is truncated: {detail}")]
    Truncated {
        /// Detected format.
        format: &'static str,
        /// What is missing.
        detail: String,
    },
    /// The header or the pixel data cannot be decoded.
    #[error("the {format} data is corrupt: {detail}")]
    Corrupt {
        /// Detected format.
        format: &'static str,
        /// What the decoder reported.
        detail: String,
    },
    /// The check profile is invalid.
    #[error("invalid check profile: {0}")]
    Profile(#[from] ProfileError),
    /// A perceptual hash given for comparison is not 96 hex digits.
    #[error("invalid perceptual hash {0:?}: expected 96 hex digits")]
    BadHash(String),
    /// A learned model (the car-likeness cells or the screen- or tilt-look weights, built in or
    /// named by `FIELDLENS_CAR_MODEL` / `FIELDLENS_SCREEN_LOOK_MODEL` /
    /// `FIELDLENS_TILT_LOOK_MODEL`, or the built-in object detector) cannot be used: a build or
    /// deployment fault, not bad input.
    #[error("a built-in model cannot be used: {0}")]
    Model(String),
    /// OpenCV failed while analysing an image that decoded fine (a bug, not bad input).
    #[error("image analysis failed: {0}")]
    Analysis(#[from] opencv::Error),
}
