//! The limits every pack is checked against; anything larger is refused with an error.

/// The manifest's file name in a pack's folder.
pub const MANIFEST_FILE: &str = "pack.toml";
/// Largest manifest, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024;
/// Largest overlay file, in bytes.
pub const MAX_OVERLAY_BYTES: u64 = 4 * 1024 * 1024;
/// Smallest overlay side, in pixels.
pub const MIN_OVERLAY_SIDE: u32 = 64;
/// Largest overlay side, in pixels.
pub const MAX_OVERLAY_SIDE: u32 = 4096;
/// Most packs in one guides folder.
pub const MAX_PACKS: usize = 128;
/// Most steps in one pack.
pub const MAX_STEPS: usize = 64;
/// Most accepted photos one step takes.
pub const MAX_PHOTOS_PER_STEP: u32 = 20;
/// Most triage inputs one step feeds.
pub const MAX_FEEDS: usize = 8;
/// Most product categories one pack applies to.
pub const MAX_CATEGORIES: usize = 8;
/// Longest pack or step id, in characters.
pub const MAX_ID_CHARS: usize = 48;
/// Longest triage input id, in characters.
pub const MAX_INPUT_ID_CHARS: usize = 64;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// Longest instruction or summary, in characters.
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest overlay path, in characters.
pub const MAX_PATH_CHARS: usize = 200;
