//! Photo quality checks on OpenCV: encoded image bytes and a check profile in, an accept/retake report out.
//!
//! This crate knows nothing about cases, networks or storage: it sees bytes, a
//! [`CheckProfile`] and the [`Fingerprint`]s of earlier photos, and returns a [`PhotoReport`].
//!
//! ```no_run
//! use fieldlens_quality::{check_photo, CheckProfile};
//! let bytes = std::fs::read("photo.jpg").unwrap();
//! let report = check_photo(&bytes, &CheckProfile::default(), &[]).unwrap();
//! println!("{} {:?}", report.verdict.as_str(), report.reasons().collect::<Vec<_>>());
//! ```
//!
//! Every check runs on one working copy at most [`decode::WORK_SIDE`] pixels on the long side,
//! so scores and thresholds mean the same for a 0.8 MP and a 12 MP photo. The method behind
//! each check is documented in its module: [`decode`] (guarded decoding), `exposure`
//! (exposure and glare), `sharpness` (blur and noise), `tilt`, `subject` (subject box, used
//! for framing) with [`carness`] (the learned car-likeness of each cell), `objects` (a
//! pretrained COCO detector: the car's box, and displays or printed pages filling the frame),
//! [`looks`] (learned read-outs of the detector's scene features: a screen, a rolled vehicle
//! scene), `recapture`, `duplicate`.
//!
//! The content checks (tilt, framing, recapture) are judged only on a readable photo: when blur,
//! under- or overexposure or noise is found, their measurements (lines, outlines, colours) are
//! artefacts of that defect, and the photo is retaken for it alone.
//!
//! Input is untrusted: sizes are checked against the profile before any pixel is allocated,
//! truncated and corrupt data are errors, and the whole path from bytes to report is fuzzed
//! (`fuzz/`, target `decode`; five runs of 7 to 15 minutes so far, no panic or crash found:
//! BENCHMARKS.md).

pub mod baseline;
pub mod carness;
pub mod decode;
mod duplicate;
mod engine;
mod error;
mod exposure;
pub mod looks;
mod messages;
mod objects;
pub mod profile;
mod recapture;
mod regions;
pub mod report;
mod sharpness;
mod subject;
mod tilt;
mod weights;

pub use duplicate::Fingerprint;
pub use engine::{are_duplicates, check_photo};
pub use error::QualityError;
pub use profile::{CheckProfile, ProfileError, TargetRegion};
pub use report::{Issue, NormalizedBox, PhotoReport, Reason, Verdict};

/// Limits OpenCV to `threads` worker threads per call (1 = run each check on the calling
/// thread only, the right setting when photos are checked in parallel).
pub fn set_opencv_threads(threads: i32) -> Result<(), QualityError> {
    opencv::core::set_num_threads(threads)?;
    Ok(())
}
