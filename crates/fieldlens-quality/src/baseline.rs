//! The simple baseline the checker is compared against: the rules most quick photo checks use.
//!
//! - `blur`: variance of the Laplacian of the whole grey working copy below 100 (the common
//!   rule of thumb);
//! - `underexposed`: mean luma below the profile's `min_mean_luma`;
//! - `overexposed`: share of clipped white pixels above the profile's `max_clipped_share`;
//! - `low_resolution`: below the profile's `min_megapixels`;
//! - the subject box is the whole frame; duplicates are byte-identical photos.
//!
//! It shares decoding (and so every input limit) with the real checker.

use std::collections::BTreeMap;
use std::time::Instant;

use opencv::core::{self, Mat};
use opencv::imgproc;
use opencv::prelude::*;
use sha2::{Digest, Sha256};

use crate::decode;
use crate::exposure::measure_exposure;
use crate::report::{Issue, NormalizedBox, PhotoReport, Reason, Verdict};
use crate::{CheckProfile, QualityError};

/// Laplacian variance under which the baseline calls a photo blurred.
pub const BASELINE_MIN_LAPLACIAN_VARIANCE: f64 = 100.0;

/// Checks a photo with the baseline rules.
pub fn check_photo_baseline(
    bytes: &[u8],
    profile: &CheckProfile,
) -> Result<PhotoReport, QualityError> {
    let started = Instant::now();
    profile.validate()?;
    let decoded = decode::decode(bytes, profile)?;
    let mut gray = Mat::default();
    imgproc::cvt_color_def(&decoded.bgr, &mut gray, imgproc::COLOR_BGR2GRAY)?;
    let mut laplacian = Mat::default();
    imgproc::laplacian_def(&gray, &mut laplacian, core::CV_64F)?;
    let (mut mean, mut deviation) = (Mat::default(), Mat::default());
    core::mean_std_dev_def(&laplacian, &mut mean, &mut deviation)?;
    let laplacian_variance = deviation.at::<f64>(0)?.powi(2);
    let exposure = measure_exposure(&gray)?;
    let header = decoded.header;
    let megapixels = f64::from(header.width) * f64::from(header.height) / 1e6;

    let rules = [
        (
            Reason::LowResolution,
            megapixels < f64::from(profile.min_megapixels),
            megapixels,
            f64::from(profile.min_megapixels),
        ),
        (
            Reason::Blur,
            laplacian_variance < BASELINE_MIN_LAPLACIAN_VARIANCE,
            laplacian_variance,
            BASELINE_MIN_LAPLACIAN_VARIANCE,
        ),
        (
            Reason::Underexposed,
            exposure.mean_luma < f64::from(profile.min_mean_luma),
            exposure.mean_luma,
            f64::from(profile.min_mean_luma),
        ),
        (
            Reason::Overexposed,
            exposure.clipped_high_share > f64::from(profile.max_clipped_share),
            exposure.clipped_high_share,
            f64::from(profile.max_clipped_share),
        ),
    ];
    let issues: Vec<Issue> = rules
        .into_iter()
        .filter(|&(reason, failed, ..)| failed && profile.checks(reason))
        .map(|(reason, _, score, threshold)| Issue::new(reason, "", score, threshold))
        .collect();
    let metrics = BTreeMap::from([
        ("megapixels".to_owned(), megapixels),
        ("laplacian_variance".to_owned(), laplacian_variance),
        ("mean_luma".to_owned(), exposure.mean_luma),
        ("clipped_high_share".to_owned(), exposure.clipped_high_share),
    ]);
    Ok(PhotoReport {
        verdict: Verdict::for_issues(&issues),
        issues,
        metrics,
        subject_box: Some(NormalizedBox {
            x: 0.0,
            y: 0.0,
            w: 1.0,
            h: 1.0,
        }),
        width: header.width,
        height: header.height,
        sha256: hex::encode(Sha256::digest(bytes)),
        perceptual_hash: String::new(),
        duplicate_of: None,
        check_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
    })
}
