//! Limits on bundles, checked when writing and again, before and while reading, when
//! verifying: a bundle beyond them is refused as unreadable rather than unpacked.

/// Largest bundle file.
pub const BUNDLE_BYTES: u64 = 1 << 30;
/// Most zip entries (manifest, case, events, photos and their reports, report).
pub const ENTRIES: usize = 10_000;
/// Largest single entry, uncompressed (a full-resolution photo, the report).
pub const ENTRY_BYTES: u64 = 64 << 20;
/// Largest manifest, case or event or photo-report entry (JSON is parsed whole).
pub const JSON_BYTES: u64 = 16 << 20;
/// Most bytes all entries may expand to together.
pub const TOTAL_BYTES: u64 = 2 << 30;
/// Highest compression ratio accepted for an entry larger than [`RATIO_FLOOR_BYTES`]:
/// our JSON and HTML compress far less; a zip bomb far more.
pub const MAX_RATIO: u64 = 100;
/// Entries smaller than this are not checked for their ratio.
pub const RATIO_FLOOR_BYTES: u64 = 1 << 20;
/// Most photos in one bundle.
pub const PHOTOS: usize = 2_000;
/// Longest entry name accepted, in bytes.
pub const NAME_BYTES: usize = 200;
