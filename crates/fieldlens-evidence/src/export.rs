//! Writing a case's export bundle: a zip whose first entry is a manifest listing every other
//! entry, in order, with its SHA-256.
//!
//! ```text
//! manifest.json               format, case id, chain head, items [path, kind, sha256, size], digest
//! case.json                   the case as the hub keeps it
//! events/000001.json …        one record of the hash-chained log each, in log order
//! photos/<sha256>.jpg         each photo's bytes as stored, named by their SHA-256
//! photos/<sha256>.json        its step, slot, time and quality report
//! report.html                 the self-contained HTML report
//! ```

use std::io::{Cursor, Write};

use fieldlens_core::UnixMs;
use fieldlens_core::event::{ChainError, verify_chain};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::limits;
use crate::manifest::{
    CASE_PATH, FORMAT, FORMAT_VERSION, ItemKind, MANIFEST_PATH, Manifest, ManifestItem,
    REPORT_PATH, event_path, photo_meta_path, photo_path, sha256_hex,
};
use crate::photo::{CaseEvidence, Photo, PhotoMeta, PhotoRecord, media_type};

/// Why a bundle could not be written. Nothing is written when any check fails.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The case has no events; every case starts with `opened`.
    #[error("case {case}: no events to export")]
    NoEvents {
        /// The case.
        case: String,
    },
    /// The log given is not an intact chain: the store is damaged or the wrong log was given.
    #[error("case {case}: the event log is not an intact chain: {source}")]
    BrokenChain {
        /// The case.
        case: String,
        /// Where the chain breaks.
        source: ChainError,
    },
    /// The case and its log disagree (event count or last hash).
    #[error("case {case}: {problem}")]
    Inconsistent {
        /// The case.
        case: String,
        /// What disagrees.
        problem: String,
    },
    /// A photo's bytes do not have the SHA-256 it is stored under.
    #[error("photo {sha256}: its bytes hash to {actual}")]
    PhotoHash {
        /// The hash given.
        sha256: String,
        /// The hash of the bytes.
        actual: String,
    },
    /// A photo is not JPEG, PNG or WebP.
    #[error("photo {sha256} is not a JPEG, PNG or WebP image")]
    PhotoFormat {
        /// The photo.
        sha256: String,
    },
    /// An item or the whole bundle is over a limit in [`limits`].
    #[error("{what}: {size} over the limit of {limit}")]
    Limit {
        /// What is too large or too many.
        what: String,
        /// Its size or count.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Serialising an item failed.
    #[error("serialising {what}: {source}")]
    Json {
        /// The item.
        what: String,
        /// The serialiser's error.
        source: serde_json::Error,
    },
    /// The zip writer failed.
    #[error("writing the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Writing into memory failed.
    #[error("writing the zip: {0}")]
    Io(#[from] std::io::Error),
}

struct Item<'a> {
    path: String,
    kind: ItemKind,
    seq: Option<u64>,
    bytes: std::borrow::Cow<'a, [u8]>,
}

fn json<T: serde::Serialize>(what: &str, value: &T) -> Result<Vec<u8>, ExportError> {
    serde_json::to_vec_pretty(value).map_err(|source| ExportError::Json {
        what: what.to_owned(),
        source,
    })
}

fn limit(what: impl Into<String>, size: u64, limit: u64) -> Result<(), ExportError> {
    if size > limit {
        return Err(ExportError::Limit {
            what: what.into(),
            size,
            limit,
        });
    }
    Ok(())
}

/// Writes the bundle of a case: the case, its whole event log, every photo with its report,
/// and `report_html` (see [`crate::render_report`]). Checks first that the log is an intact
/// chain matching the case, that every photo has the hash it is stored under, and that the
/// bundle stays within [`limits`], so a bundle that verifies clean proves the hub's data was
/// intact when exported. The zip is deterministic for the same inputs.
pub fn export(
    evidence: &CaseEvidence<'_>,
    report_html: &str,
    exported_at: UnixMs,
) -> Result<Vec<u8>, ExportError> {
    let case = evidence.case;
    let case_id = case.id.to_string();
    let events = evidence.events;
    let last = events.last().ok_or_else(|| ExportError::NoEvents {
        case: case_id.clone(),
    })?;
    verify_chain(&case.id, events).map_err(|source| ExportError::BrokenChain {
        case: case_id.clone(),
        source,
    })?;
    if case.event_count != events.len() as u64 || case.last_event_hash != last.hash {
        return Err(ExportError::Inconsistent {
            case: case_id,
            problem: format!(
                "the case records {} events ending in {}, the log given has {} ending in {}",
                case.event_count,
                case.last_event_hash,
                events.len(),
                last.hash
            ),
        });
    }
    limit(
        "photos",
        evidence.photos.len() as u64,
        limits::PHOTOS as u64,
    )?;

    let mut items = vec![Item {
        path: CASE_PATH.into(),
        kind: ItemKind::Case,
        seq: None,
        bytes: json("case", case)?.into(),
    }];
    for record in events {
        items.push(Item {
            path: event_path(record.seq),
            kind: ItemKind::Event,
            seq: Some(record.seq),
            bytes: json(&format!("event {}", record.seq), record)?.into(),
        });
    }
    // Content-addressed: the same bytes sent twice (a caller re-sending a photo) are one
    // entry whose record lists every use, in the order given.
    let mut uses: Vec<(&Photo, Vec<PhotoMeta>)> = Vec::new();
    for photo in evidence.photos {
        let actual = sha256_hex(&photo.bytes);
        if actual != photo.sha256 {
            return Err(ExportError::PhotoHash {
                sha256: photo.sha256.clone(),
                actual,
            });
        }
        match uses
            .iter_mut()
            .find(|(seen, _)| seen.sha256 == photo.sha256)
        {
            Some((_, metas)) => metas.push(photo.meta.clone()),
            None => uses.push((photo, vec![photo.meta.clone()])),
        }
    }
    limit("photos", uses.len() as u64, limits::PHOTOS as u64)?;
    for (photo, metas) in uses {
        let (mime, extension) =
            media_type(&photo.bytes).ok_or_else(|| ExportError::PhotoFormat {
                sha256: photo.sha256.clone(),
            })?;
        let size = photo.bytes.len() as u64;
        limit(format!("photo {}", photo.sha256), size, limits::ENTRY_BYTES)?;
        let record = PhotoRecord {
            sha256: photo.sha256.clone(),
            media_type: mime.into(),
            size,
            uses: metas,
        };
        items.push(Item {
            path: photo_path(&photo.sha256, extension),
            kind: ItemKind::Photo,
            seq: None,
            bytes: photo.bytes.as_slice().into(),
        });
        items.push(Item {
            path: photo_meta_path(&photo.sha256),
            kind: ItemKind::PhotoMeta,
            seq: None,
            bytes: json(&format!("photo {}", photo.sha256), &record)?.into(),
        });
    }
    limit("report", report_html.len() as u64, limits::ENTRY_BYTES)?;
    items.push(Item {
        path: REPORT_PATH.into(),
        kind: ItemKind::Report,
        seq: None,
        bytes: report_html.as_bytes().into(),
    });
    limit("entries", items.len() as u64 + 1, limits::ENTRIES as u64)?;
    let total: u64 = items.iter().map(|item| item.bytes.len() as u64).sum();
    limit("bundle contents", total, limits::TOTAL_BYTES)?;

    let mut manifest = Manifest {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        case_id: case.id.to_string(),
        exported_at,
        event_count: events.len() as u64,
        chain_head: last.hash.clone(),
        items: items
            .iter()
            .map(|item| ManifestItem {
                path: item.path.clone(),
                kind: item.kind,
                sha256: sha256_hex(&item.bytes),
                size: item.bytes.len() as u64,
                seq: item.seq,
            })
            .collect(),
        digest: String::new(),
    };
    manifest.digest = manifest.compute_digest();
    let manifest_bytes = json("manifest", &manifest)?;
    limit("manifest", manifest_bytes.len() as u64, limits::JSON_BYTES)?;

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    // A fixed timestamp keeps the zip deterministic; the export time is in the manifest.
    let deflated = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default());
    // Photos are compressed already.
    let stored = deflated.compression_method(CompressionMethod::Stored);
    zip.start_file(MANIFEST_PATH, deflated)?;
    zip.write_all(&manifest_bytes)?;
    for item in &items {
        let options = if item.kind == ItemKind::Photo {
            stored
        } else {
            deflated
        };
        zip.start_file(item.path.as_str(), options)?;
        zip.write_all(&item.bytes)?;
    }
    let bundle = zip.finish()?.into_inner();
    limit("bundle", bundle.len() as u64, limits::BUNDLE_BYTES)?;
    Ok(bundle)
}
