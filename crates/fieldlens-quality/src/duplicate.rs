//! Duplicates: perceptual hashes (OpenCV `img_hash::PHash`) robust to resizing, re-encoding and
//! small crops.
//!
//! PHash reduces a photo to 32×32 grey, takes the 8×8 lowest DCT frequencies and keeps one bit
//! per coefficient (above or below the median): resizing and JPEG re-encoding barely move it.
//! A crop of a few percent shifts the content, though, and flips many bits. So a fingerprint
//! holds six hashes: the whole frame, its central 90% and the four corner-anchored 90% windows.
//! Two photos are compared by the smallest Hamming distance over all 36 pairs of their hashes:
//! if one is a 5% crop of the other, one of the windows lines up with it. Different photos stay
//! far apart (the hashes of unrelated content differ in about half of their 64 bits).

use opencv::core::{Mat, Rect};
use opencv::img_hash;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};

use crate::QualityError;

/// Share of each side kept in the cropped windows.
const WINDOW: f64 = 0.9;
/// Hashes per fingerprint.
pub const HASHES: usize = 6;

/// What the hub keeps per accepted photo so later photos of the same case can be checked for
/// `duplicate`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// SHA-256 (hex) of the photo's bytes.
    pub sha256: String,
    /// Six 64-bit perceptual hashes, 96 hex digits (see the module docs).
    pub perceptual_hash: String,
}

/// Parsed perceptual hashes of one photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hashes([u64; HASHES]);

impl Hashes {
    /// Hashes the whole frame and the five 90% windows of a BGR image.
    pub(crate) fn of(bgr: &Mat) -> Result<Self, QualityError> {
        let (width, height) = (bgr.cols(), bgr.rows());
        let (cw, ch) = (
            ((f64::from(width) * WINDOW).round() as i32).max(1),
            ((f64::from(height) * WINDOW).round() as i32).max(1),
        );
        let windows = [
            Rect::new(0, 0, width, height),
            Rect::new((width - cw) / 2, (height - ch) / 2, cw, ch),
            Rect::new(0, 0, cw, ch),
            Rect::new(width - cw, 0, cw, ch),
            Rect::new(0, height - ch, cw, ch),
            Rect::new(width - cw, height - ch, cw, ch),
        ];
        let mut hasher = img_hash::PHash::create()?;
        let mut hashes = [0u64; HASHES];
        for (slot, window) in hashes.iter_mut().zip(windows) {
            let view = Mat::roi(bgr, window)?;
            let mut hash = Mat::default();
            hasher.compute(&view, &mut hash)?;
            let bytes = hash.data_bytes()?;
            let bytes: [u8; 8] = bytes
                .try_into()
                .map_err(|_| QualityError::BadHash(format!("{} bytes from PHash", bytes.len())))?;
            *slot = u64::from_be_bytes(bytes);
        }
        Ok(Self(hashes))
    }

    /// Parses the hex form.
    pub(crate) fn parse(hex_digits: &str) -> Result<Self, QualityError> {
        let bad = || QualityError::BadHash(hex_digits.chars().take(120).collect());
        let bytes = hex::decode(hex_digits).map_err(|_| bad())?;
        if bytes.len() != HASHES * 8 {
            return Err(bad());
        }
        let mut hashes = [0u64; HASHES];
        for (slot, chunk) in hashes.iter_mut().zip(bytes.chunks_exact(8)) {
            *slot = u64::from_be_bytes(chunk.try_into().map_err(|_| bad())?);
        }
        Ok(Self(hashes))
    }

    /// The hex form (96 digits).
    pub(crate) fn to_hex(self) -> String {
        self.0.iter().map(|hash| format!("{hash:016x}")).collect()
    }

    /// Smallest Hamming distance over all pairs of hashes.
    pub(crate) fn distance(&self, other: &Hashes) -> u32 {
        self.0
            .iter()
            .flat_map(|a| other.0.iter().map(move |b| (a ^ b).count_ones()))
            .min()
            .unwrap_or(64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_bad_input() {
        let hashes = Hashes([1, 2, 3, u64::MAX, 0, 0xdead_beef]);
        let hex = hashes.to_hex();
        assert_eq!(hex.len(), 96);
        assert_eq!(Hashes::parse(&hex).unwrap(), hashes);
        assert!(matches!(
            Hashes::parse("abc"),
            Err(QualityError::BadHash(_))
        ));
        assert!(Hashes::parse(&"zz".repeat(48)).is_err());
    }

    #[test]
    fn distance_is_smallest_over_pairs() {
        let a = Hashes([0, u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX]);
        let b = Hashes([0b111, 0b111, 0b111, 0b111, 0b111, 0b111]);
        assert_eq!(a.distance(&b), 3);
        assert_eq!(a.distance(&a), 0);
    }
}
