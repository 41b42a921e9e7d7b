//! What a bundle and a report are made from: the case, its log, its photos with their
//! quality reports, and the guide pack that says what each photo was for.

use fieldlens_core::{Case, EventRecord, UnixMs};
use fieldlens_guides::GuidePack;
use fieldlens_quality::PhotoReport;
use serde::{Deserialize, Serialize};

/// One photo of a case: its bytes as stored (content-addressed by SHA-256) and what is known
/// about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    /// SHA-256 (hex) of `bytes`; checked on export.
    pub sha256: String,
    /// The encoded image as received (JPEG, PNG or WebP).
    pub bytes: Vec<u8>,
    /// Which step it was for and how it was judged.
    pub meta: PhotoMeta,
}

/// What is known about a photo besides its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoMeta {
    /// The guide step it was taken for.
    pub step: String,
    /// For repeatable steps, which repeat (0-based); 0 otherwise.
    pub slot: u32,
    /// When it was checked.
    pub taken_at: UnixMs,
    /// The quality engine's report; `None` when the photo was never checked.
    pub report: Option<PhotoReport>,
}

/// A photo's metadata as written into a bundle (`photos/<sha256>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoRecord {
    /// SHA-256 (hex) of the photo's bytes (also its entry name).
    pub sha256: String,
    /// MIME type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Each time these bytes were sent: step, slot, time and quality report (more than one
    /// when the same photo was sent again).
    pub uses: Vec<PhotoMeta>,
}

/// Everything known about one case, as the hub gathers it to export or report on.
#[derive(Debug, Clone, Copy)]
pub struct CaseEvidence<'a> {
    /// The case as the hub keeps it.
    pub case: &'a Case,
    /// Its whole event log, from the first record, hash-chained.
    pub events: &'a [EventRecord],
    /// Every photo taken, accepted or not, in the order taken.
    pub photos: &'a [Photo],
    /// The guide pack used for the capture, for step titles and overlays; `None` when the
    /// case never started a capture.
    pub guide: Option<&'a GuidePack>,
}

/// MIME type and file extension of an encoded image, by its signature.
pub fn media_type(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Jpeg => Some(("image/jpeg", "jpg")),
        image::ImageFormat::Png => Some(("image/png", "png")),
        image::ImageFormat::WebP => Some(("image/webp", "webp")),
        _ => None,
    }
}
