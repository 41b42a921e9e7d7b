//! Photo quality checks on OpenCV: encoded image bytes and a check profile in, an accept/retake report out.
//!
//! This crate knows nothing about cases, networks or storage: it sees bytes, a
//! [`CheckProfile`] and the [`Fingerprint`]s of earlier photos, and returns a [`PhotoReport`].

mod error;
pub mod profile;
pub mod report;

pub use error::QualityError;
pub use profile::{CheckProfile, ProfileError, TargetRegion};
pub use report::{Issue, NormalizedBox, PhotoReport, Reason, Verdict};

use serde::{Deserialize, Serialize};

/// What the hub keeps per accepted photo so later photos of the same case can be checked for
/// `duplicate`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// SHA-256 (hex) of the photo's bytes.
    pub sha256: String,
    /// 64-bit perceptual hash (16 hex digits).
    pub perceptual_hash: String,
}
