//! The bundle's manifest: every item in order with its SHA-256, and a digest of the manifest
//! itself so a hand-edited manifest is caught.

use fieldlens_core::UnixMs;
use fieldlens_core::event::canonical_json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Name of the manifest entry, always the bundle's first.
pub const MANIFEST_PATH: &str = "manifest.json";
/// Name of the case entry.
pub const CASE_PATH: &str = "case.json";
/// Name of the HTML report entry.
pub const REPORT_PATH: &str = "report.html";
/// The `format` a manifest declares.
pub const FORMAT: &str = "fieldlens-case-bundle";
/// The bundle format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What an item of a bundle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// The manifest itself (never listed in it).
    Manifest,
    /// The case as the hub keeps it (`case.json`).
    Case,
    /// One record of the hash-chained event log (`events/000001.json`…).
    Event,
    /// A photo's bytes, named by their SHA-256 (`photos/<sha256>.jpg`).
    Photo,
    /// A photo's step, media type and quality report (`photos/<sha256>.json`).
    PhotoMeta,
    /// The HTML case report (`report.html`).
    Report,
}

impl ItemKind {
    /// The name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Manifest => "manifest",
            ItemKind::Case => "case",
            ItemKind::Event => "event",
            ItemKind::Photo => "photo",
            ItemKind::PhotoMeta => "photo report",
            ItemKind::Report => "report",
        }
    }
}

/// One item as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestItem {
    /// The entry's name in the zip.
    pub path: String,
    /// What it is.
    pub kind: ItemKind,
    /// SHA-256 (hex) of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// For events: the record's position in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// The first entry of every bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for bundles this crate writes.
    pub version: u32,
    /// The case exported.
    pub case_id: String,
    /// When the bundle was written.
    pub exported_at: UnixMs,
    /// Records in the event log.
    pub event_count: u64,
    /// Hash of the log's last record: compare it with the hub's record of the case to know
    /// the bundle holds the whole log as the hub has it.
    pub chain_head: String,
    /// Every item, in the order of the zip's entries after the manifest.
    pub items: Vec<ManifestItem>,
    /// SHA-256 (hex) of the canonical JSON of every other field.
    pub digest: String,
}

impl Manifest {
    /// The digest the manifest should carry: SHA-256 over the canonical JSON of every field
    /// but `digest`.
    pub fn compute_digest(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("digest");
        }
        sha256_hex(canonical_json(&value).as_bytes())
    }
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The entry name of event record `seq`.
pub fn event_path(seq: u64) -> String {
    format!("events/{seq:06}.json")
}

/// The entry name of a photo's bytes.
pub fn photo_path(sha256: &str, extension: &str) -> String {
    format!("photos/{sha256}.{extension}")
}

/// The entry name of a photo's metadata.
pub fn photo_meta_path(sha256: &str) -> String {
    format!("photos/{sha256}.json")
}
