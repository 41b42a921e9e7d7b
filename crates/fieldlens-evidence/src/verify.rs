//! Verifying a bundle offline: every item against the manifest, the manifest against its own
//! digest, the event log as a hash chain, photos against the hash they are named by, and the
//! case against its log. Each problem names the item.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{Cursor, Read};

use fieldlens_core::event::{ChainError, EventRecord, verify_chain};
use fieldlens_core::{CaseEvent, CaseId, UnixMs};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use crate::limits;
use crate::manifest::{
    CASE_PATH, FORMAT, FORMAT_VERSION, ItemKind, MANIFEST_PATH, Manifest, ManifestItem, event_path,
    photo_meta_path,
};

/// A bundle that cannot be checked at all (exit code 2 of `fieldlens verify`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The file is larger than [`limits::BUNDLE_BYTES`].
    #[error("the bundle is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not a zip archive, or its directory is damaged.
    #[error("not a readable zip archive: {0}")]
    NotAZip(String),
    /// More entries than [`limits::ENTRIES`].
    #[error("{count} entries, over the limit of {limit}")]
    TooManyEntries {
        /// The count.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// An entry expands beyond its limit or the total beyond [`limits::TOTAL_BYTES`].
    #[error("entry {path:?} expands to more than {limit} bytes")]
    EntryTooLarge {
        /// The entry (`*` for the total).
        path: String,
        /// The limit it exceeds.
        limit: u64,
    },
    /// An entry compresses suspiciously well: a zip bomb, not something we wrote.
    #[error("entry {path:?} claims a compression ratio of {ratio}:1, over the limit of {limit}:1")]
    ZipBomb {
        /// The entry.
        path: String,
        /// Its claimed ratio.
        ratio: u64,
        /// The limit.
        limit: u64,
    },
    /// The manifest names a format or version this build does not know.
    #[error(
        "manifest declares {format:?} version {version}; this build reads {FORMAT:?} version {FORMAT_VERSION}"
    )]
    UnsupportedFormat {
        /// The format named.
        format: String,
        /// The version named.
        version: u32,
    },
}

/// An item of a bundle, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRef {
    /// What it is.
    pub kind: ItemKind,
    /// Its entry name.
    pub path: String,
}

impl ItemRef {
    fn new(kind: ItemKind, path: impl Into<String>) -> Self {
        ItemRef {
            kind,
            path: path.into(),
        }
    }
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.path)
    }
}

/// One thing wrong with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// There is no `manifest.json`: nothing can be checked against it.
    ManifestMissing,
    /// The manifest is not valid JSON of the manifest's shape, or lists items inconsistently.
    ManifestUnreadable {
        /// Why.
        reason: String,
    },
    /// The manifest does not match its own digest: it was edited.
    ManifestChanged,
    /// The item's content differs from what the manifest lists.
    Changed {
        /// The item.
        item: ItemRef,
    },
    /// The item holds the content the manifest lists for another item (items swapped or
    /// shifted).
    Moved {
        /// The item.
        item: ItemRef,
        /// The item whose content it holds.
        holds: ItemRef,
    },
    /// The manifest lists the item but the bundle lacks it.
    Missing {
        /// The item.
        item: ItemRef,
    },
    /// The bundle holds an entry the manifest does not list (or lists one name twice).
    Added {
        /// The entry's name.
        path: String,
    },
    /// The item is out of the manifest's order.
    Reordered {
        /// The item.
        item: ItemRef,
        /// Its position in the manifest (1 = first item after the manifest).
        expected: usize,
        /// Its position in the bundle.
        found: usize,
    },
    /// The item cannot be read (checksum error, unknown compression, encryption, not JSON).
    Unreadable {
        /// The item.
        item: ItemRef,
        /// Why.
        reason: String,
    },
    /// The event records do not form an intact hash chain.
    BrokenChain {
        /// Where it breaks.
        reason: String,
    },
    /// Items contradict each other (a photo not matching the hash it is named by, the case
    /// disagreeing with its log…).
    Inconsistent {
        /// The item.
        item: ItemRef,
        /// How.
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ManifestMissing => write!(f, "missing: {MANIFEST_PATH}"),
            Problem::ManifestUnreadable { reason } => {
                write!(f, "unreadable: {MANIFEST_PATH}: {reason}")
            }
            Problem::ManifestChanged => write!(
                f,
                "changed: {MANIFEST_PATH} (it does not match its own digest)"
            ),
            Problem::Changed { item } => write!(f, "changed: {item}"),
            Problem::Moved { item, holds } => {
                write!(f, "moved: {item} holds the content of {holds}")
            }
            Problem::Missing { item } => write!(f, "missing: {item}"),
            Problem::Added { path } => write!(f, "added: {path}"),
            Problem::Reordered {
                item,
                expected,
                found,
            } => write!(
                f,
                "reordered: {item} is entry {found}, the manifest puts it at {expected}"
            ),
            Problem::Unreadable { item, reason } => write!(f, "unreadable: {item}: {reason}"),
            Problem::BrokenChain { reason } => write!(f, "broken event chain: {reason}"),
            Problem::Inconsistent { item, reason } => write!(f, "inconsistent: {item}: {reason}"),
        }
    }
}

/// The outcome of verifying a readable bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The case the manifest names, when it could be read.
    pub case_id: Option<String>,
    /// When the bundle was exported, from the manifest.
    pub exported_at: Option<UnixMs>,
    /// The hash of the log's last record, from the manifest: compare it with the hub's
    /// record of the case to know the bundle holds the whole log.
    pub chain_head: Option<String>,
    /// Entries in the zip, the manifest included.
    pub entries: usize,
    /// Event records checked.
    pub events: usize,
    /// Photos checked.
    pub photos: usize,
    /// Every problem found; empty when the bundle is intact.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether no problem was found.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One zip entry as read: its position, and its hash and size (and bytes when parsed later)
/// or why it could not be read.
struct Entry {
    position: usize,
    read: Result<ReadEntry, String>,
}

struct ReadEntry {
    sha256: String,
    bytes: Option<Vec<u8>>,
}

fn is_json_entry(name: &str) -> bool {
    name.ends_with(".json")
}

/// Reads every entry within the limits, hashing as it goes; keeps JSON entries' bytes.
fn read_entries(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
) -> Result<(Vec<String>, HashMap<String, Entry>), VerifyError> {
    let mut names = Vec::with_capacity(archive.len());
    let mut entries = HashMap::new();
    let mut declared_total = 0u64;
    for index in 0..archive.len() {
        let name: String = archive
            .name_for_index(index)
            .map_or_else(|| format!("#{}", index + 1), str::to_owned)
            .chars()
            .take(limits::NAME_BYTES)
            .collect();
        let mut file = match archive.by_index(index) {
            Ok(file) => file,
            Err(error) => {
                // Unsupported method, encryption: say which entry, keep checking the rest.
                names.push(name.clone());
                entries.insert(
                    name,
                    Entry {
                        position: index,
                        read: Err(error.to_string()),
                    },
                );
                continue;
            }
        };
        let size = file.size();
        let limit = if is_json_entry(&name) {
            limits::JSON_BYTES
        } else {
            limits::ENTRY_BYTES
        };
        if size > limit {
            return Err(VerifyError::EntryTooLarge { path: name, limit });
        }
        let compressed = file.compressed_size().max(1);
        if size > limits::RATIO_FLOOR_BYTES && size / compressed > limits::MAX_RATIO {
            return Err(VerifyError::ZipBomb {
                path: name,
                ratio: size / compressed,
                limit: limits::MAX_RATIO,
            });
        }
        declared_total = declared_total.saturating_add(size);
        if declared_total > limits::TOTAL_BYTES {
            return Err(VerifyError::EntryTooLarge {
                path: "*".into(),
                limit: limits::TOTAL_BYTES,
            });
        }
        // Never trust the declared size: read at most one byte past the limit.
        let mut hasher = Sha256::new();
        let mut kept = is_json_entry(&name).then(Vec::new);
        let mut buffer = vec![0u8; 64 * 1024];
        let mut read_total = 0u64;
        let mut reader = (&mut file).take(limit + 1);
        let read = loop {
            match reader.read(&mut buffer) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    read_total += n as u64;
                    if read_total > limit {
                        return Err(VerifyError::EntryTooLarge { path: name, limit });
                    }
                    hasher.update(&buffer[..n]);
                    if let Some(kept) = kept.as_mut() {
                        kept.extend_from_slice(&buffer[..n]);
                    }
                }
                Err(error) => break Err(error.to_string()),
            }
        };
        let entry = Entry {
            position: index,
            read: read.map(|()| ReadEntry {
                sha256: hex::encode(hasher.finalize()),
                bytes: kept,
            }),
        };
        names.push(name.clone());
        entries.insert(name, entry);
    }
    Ok((names, entries))
}

/// Every name in the zip's central directory, in order, read directly: the zip reader keeps
/// one entry per name, so this is how a name written twice is found. Stops at anything
/// malformed (the reader has accepted the directory already) and after `limit` names.
fn central_directory_names(bytes: &[u8], start: u64, limit: usize) -> Vec<String> {
    const SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    let field = |at: usize| -> Option<usize> {
        Some(usize::from(u16::from_le_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    let mut names = Vec::new();
    let mut at = usize::try_from(start).unwrap_or(usize::MAX);
    while names.len() < limit && bytes.get(at..at + 4) == Some(&SIGNATURE[..]) {
        let (Some(name), Some(extra), Some(comment)) =
            (field(at + 28), field(at + 30), field(at + 32))
        else {
            break;
        };
        let Some(raw) = bytes.get(at + 46..at + 46 + name) else {
            break;
        };
        names.push(String::from_utf8_lossy(raw).into_owned());
        at += 46 + name + extra + comment;
    }
    names
}

/// Positions (indices into `sequence`) outside one longest increasing run: the items that
/// moved when the rest kept their relative order.
fn out_of_order(sequence: &[usize]) -> Vec<usize> {
    // Patience sorting with back-pointers; O(n log n).
    let mut tails: Vec<usize> = Vec::new();
    let mut previous = vec![usize::MAX; sequence.len()];
    for (i, &value) in sequence.iter().enumerate() {
        let slot = tails.partition_point(|&t| sequence[t] < value);
        if slot > 0 {
            previous[i] = tails[slot - 1];
        }
        if slot == tails.len() {
            tails.push(i);
        } else {
            tails[slot] = i;
        }
    }
    let mut keep = vec![false; sequence.len()];
    let mut at = tails.last().copied();
    while let Some(i) = at {
        keep[i] = true;
        at = (previous[i] != usize::MAX).then(|| previous[i]);
    }
    (0..sequence.len()).filter(|&i| !keep[i]).collect()
}

/// Checks a bundle. Fails only when it cannot be read at all; a readable bundle gives a
/// report whose problems name every changed, missing, added or reordered item.
pub fn verify(bundle: &[u8]) -> Result<VerifyReport, VerifyError> {
    if bundle.len() as u64 > limits::BUNDLE_BYTES {
        return Err(VerifyError::TooLarge {
            size: bundle.len() as u64,
            limit: limits::BUNDLE_BYTES,
        });
    }
    let mut archive =
        ZipArchive::new(Cursor::new(bundle)).map_err(|e| VerifyError::NotAZip(e.to_string()))?;
    if archive.len() > limits::ENTRIES {
        return Err(VerifyError::TooManyEntries {
            count: archive.len(),
            limit: limits::ENTRIES,
        });
    }
    let (names, entries) = read_entries(&mut archive)?;
    let mut report = VerifyReport {
        case_id: None,
        exported_at: None,
        chain_head: None,
        entries: names.len(),
        events: 0,
        photos: 0,
        problems: Vec::new(),
    };
    let directory = central_directory_names(
        bundle,
        archive.central_directory_start(),
        limits::ENTRIES + 1,
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &directory {
        *counts.entry(name).or_default() += 1;
    }
    for (name, count) in counts {
        if count > 1 {
            report.problems.push(Problem::Added {
                path: format!("a second entry named {name}"),
            });
        }
    }
    let Some(manifest_entry) = entries.get(MANIFEST_PATH) else {
        report.problems.push(Problem::ManifestMissing);
        return Ok(report);
    };
    let manifest_ref = ItemRef::new(ItemKind::Manifest, MANIFEST_PATH);
    if manifest_entry.position != 0 {
        report.problems.push(Problem::Reordered {
            item: manifest_ref.clone(),
            expected: 0,
            found: manifest_entry.position,
        });
    }
    let manifest = match parse_manifest(manifest_entry) {
        Ok(manifest) => manifest,
        Err(reason) => {
            report.problems.push(Problem::ManifestUnreadable { reason });
            return Ok(report);
        }
    };
    if manifest.format != FORMAT || manifest.version != FORMAT_VERSION {
        return Err(VerifyError::UnsupportedFormat {
            format: manifest.format,
            version: manifest.version,
        });
    }
    report.case_id = Some(manifest.case_id.clone());
    report.exported_at = Some(manifest.exported_at);
    report.chain_head = Some(manifest.chain_head.clone());
    if manifest.compute_digest() != manifest.digest {
        report.problems.push(Problem::ManifestChanged);
    }
    if let Err(reason) = check_manifest_items(&manifest) {
        report.problems.push(Problem::ManifestUnreadable { reason });
        return Ok(report);
    }
    let mut checker = Checker {
        manifest: &manifest,
        entries: &entries,
        problems: Vec::new(),
        logged_photos: Vec::new(),
    };
    checker.items(&names);
    report.events = checker.events();
    checker.case();
    report.photos = checker.photos();
    report.problems.extend(checker.problems);
    Ok(report)
}

fn parse_manifest(entry: &Entry) -> Result<Manifest, String> {
    let read = entry.read.as_ref().map_err(Clone::clone)?;
    let bytes = read.bytes.as_deref().unwrap_or_default();
    serde_json::from_slice(bytes).map_err(|error| format!("not a manifest: {error}"))
}

/// The manifest's own rules: unique paths, names that fit their kind, events in sequence.
fn check_manifest_items(manifest: &Manifest) -> Result<(), String> {
    let mut paths = std::collections::HashSet::new();
    let mut next_seq = 1;
    for item in &manifest.items {
        if !paths.insert(item.path.as_str()) {
            return Err(format!("lists {} twice", item.path));
        }
        let fits = match item.kind {
            ItemKind::Manifest => false,
            ItemKind::Case => item.path == CASE_PATH,
            ItemKind::Report => item.path == crate::manifest::REPORT_PATH,
            ItemKind::Event => {
                let fits = item.seq == Some(next_seq) && item.path == event_path(next_seq);
                next_seq += 1;
                fits
            }
            ItemKind::Photo => photo_hash(&item.path).is_some(),
            ItemKind::PhotoMeta => {
                photo_hash(&item.path).is_some_and(|sha| item.path == photo_meta_path(sha))
            }
        };
        if !fits {
            return Err(format!(
                "item {} does not fit its kind {}",
                item.path,
                item.kind.as_str()
            ));
        }
    }
    Ok(())
}

/// The SHA-256 a photo entry is named by: `photos/<64 hex>.<ext>`.
fn photo_hash(path: &str) -> Option<&str> {
    let name = path.strip_prefix("photos/")?;
    let (sha, _) = name.split_once('.')?;
    (sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then_some(sha)
}

struct Checker<'a> {
    manifest: &'a Manifest,
    entries: &'a HashMap<String, Entry>,
    problems: Vec<Problem>,
    /// Photos the log names (`photo_checked` events), with the event naming each.
    logged_photos: Vec<(String, ItemRef)>,
}

fn item_ref(item: &ManifestItem) -> ItemRef {
    ItemRef::new(item.kind, item.path.clone())
}

impl Checker<'_> {
    /// Every listed item present, readable and unchanged; nothing unlisted; the manifest's
    /// order kept.
    fn items(&mut self, names: &[String]) {
        let listed: HashMap<&str, usize> = self
            .manifest
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.path.as_str(), i))
            .collect();
        let by_hash: HashMap<&str, &ManifestItem> = self
            .manifest
            .items
            .iter()
            .map(|item| (item.sha256.as_str(), item))
            .collect();
        for item in &self.manifest.items {
            let Some(entry) = self.entries.get(&item.path) else {
                self.problems.push(Problem::Missing {
                    item: item_ref(item),
                });
                continue;
            };
            match &entry.read {
                Err(reason) => self.problems.push(Problem::Unreadable {
                    item: item_ref(item),
                    reason: reason.clone(),
                }),
                Ok(read) if read.sha256 != item.sha256 => match by_hash.get(read.sha256.as_str()) {
                    Some(other) if other.path != item.path => self.problems.push(Problem::Moved {
                        item: item_ref(item),
                        holds: item_ref(other),
                    }),
                    _ => self.problems.push(Problem::Changed {
                        item: item_ref(item),
                    }),
                },
                Ok(_) => {}
            }
        }
        let mut seen = std::collections::HashSet::new();
        for name in names {
            if name != MANIFEST_PATH && !listed.contains_key(name.as_str()) && seen.insert(name) {
                self.problems.push(Problem::Added { path: name.clone() });
            }
        }
        // Order: among listed entries present, those outside the longest run kept in order.
        let present: Vec<(usize, usize)> = names
            .iter()
            .enumerate()
            .filter_map(|(position, name)| Some((position, *listed.get(name.as_str())?)))
            .collect();
        let sequence: Vec<usize> = present.iter().map(|(_, index)| *index).collect();
        for i in out_of_order(&sequence) {
            let (position, index) = present[i];
            self.problems.push(Problem::Reordered {
                item: item_ref(&self.manifest.items[index]),
                expected: index + 1,
                found: position,
            });
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self, item: &ManifestItem) -> Option<T> {
        let read = self.entries.get(&item.path)?.read.as_ref().ok()?;
        match serde_json::from_slice(read.bytes.as_deref()?) {
            Ok(value) => Some(value),
            Err(error) => {
                self.problems.push(Problem::Unreadable {
                    item: item_ref(item),
                    reason: format!("not valid JSON of its kind: {error}"),
                });
                None
            }
        }
    }

    /// The event records as a chain, each where its name says, ending at the chain head.
    fn events(&mut self) -> usize {
        let items: Vec<&ManifestItem> = self
            .manifest
            .items
            .iter()
            .filter(|item| item.kind == ItemKind::Event)
            .collect();
        let mut records: Vec<EventRecord> = Vec::new();
        for item in &items {
            let Some(record) = self.json::<EventRecord>(item) else {
                continue;
            };
            if let CaseEvent::PhotoChecked { sha256, .. } = &record.event {
                self.logged_photos.push((sha256.clone(), item_ref(item)));
            }
            if Some(record.seq) != item.seq {
                self.problems.push(Problem::Inconsistent {
                    item: item_ref(item),
                    reason: format!("holds event seq {}", record.seq),
                });
            }
            records.push(record);
        }
        let manifest_ref = ItemRef::new(ItemKind::Manifest, MANIFEST_PATH);
        if let Err(error) = verify_chain(&CaseId::new(self.manifest.case_id.clone()), &records) {
            self.problems.push(Problem::BrokenChain {
                reason: describe_chain_error(&error),
            });
        }
        let head = records.last().map(|record| record.hash.as_str());
        if items.len() as u64 != self.manifest.event_count
            || head != Some(self.manifest.chain_head.as_str())
        {
            self.problems.push(Problem::Inconsistent {
                item: manifest_ref,
                reason: format!(
                    "declares {} events ending in {}, the bundle's log has {} ending in {}",
                    self.manifest.event_count,
                    self.manifest.chain_head,
                    records.len(),
                    head.unwrap_or("nothing")
                ),
            });
        }
        records.len()
    }

    /// The case: same id, event count and last hash as the log.
    fn case(&mut self) {
        let Some(item) = self
            .manifest
            .items
            .iter()
            .find(|i| i.kind == ItemKind::Case)
        else {
            self.problems.push(Problem::Missing {
                item: ItemRef::new(ItemKind::Case, CASE_PATH),
            });
            return;
        };
        let Some(case) = self.json::<serde_json::Value>(item) else {
            return;
        };
        let expected = [
            ("id", serde_json::json!(self.manifest.case_id)),
            ("event_count", serde_json::json!(self.manifest.event_count)),
            (
                "last_event_hash",
                serde_json::json!(self.manifest.chain_head),
            ),
        ];
        for (field, value) in expected {
            if case.get(field) != Some(&value) {
                self.problems.push(Problem::Inconsistent {
                    item: item_ref(item),
                    reason: format!(
                        "{field} is {}, the log says {value}",
                        case.get(field).unwrap_or(&serde_json::Value::Null)
                    ),
                });
            }
        }
    }

    /// Each photo's bytes hash to its name, its record names the same photo, and the photos
    /// are exactly those the log names: a photo swapped for another, even with the manifest
    /// and records rewritten to match, no longer has the hash the chained log holds.
    fn photos(&mut self) -> usize {
        let manifest = self.manifest;
        let mut count = 0;
        let bundled: Vec<&str> = manifest
            .items
            .iter()
            .filter(|i| i.kind == ItemKind::Photo)
            .filter_map(|i| photo_hash(&i.path))
            .collect();
        let logged = std::mem::take(&mut self.logged_photos);
        for (sha, event) in &logged {
            if !bundled.contains(&sha.as_str()) {
                self.problems.push(Problem::Missing {
                    item: ItemRef::new(
                        ItemKind::Photo,
                        format!("photos/{sha}.* (named by {event})"),
                    ),
                });
            }
        }
        for item in manifest.items.iter().filter(|i| i.kind == ItemKind::Photo) {
            count += 1;
            let Some(sha) = photo_hash(&item.path) else {
                continue;
            };
            if !logged.iter().any(|(logged, _)| logged == sha) {
                self.problems.push(Problem::Inconsistent {
                    item: item_ref(item),
                    reason: "no photo_checked event of the log names it".into(),
                });
            }
            let actual = self
                .entries
                .get(&item.path)
                .and_then(|entry| entry.read.as_ref().ok())
                .map(|read| read.sha256.as_str());
            // A manifest rewritten to match changed bytes still cannot rename the photo
            // without breaking its record and report.
            if actual.is_some_and(|actual| actual != sha)
                && !self.problems.iter().any(|p| names_item(p, &item.path))
            {
                self.problems.push(Problem::Changed {
                    item: item_ref(item),
                });
            }
            if item.sha256 != sha {
                self.problems.push(Problem::Inconsistent {
                    item: ItemRef::new(ItemKind::Manifest, MANIFEST_PATH),
                    reason: format!("lists {} with a hash other than its name", item.path),
                });
            }
            let meta_path = photo_meta_path(sha);
            let Some(meta_item) = manifest.items.iter().find(|i| i.path == meta_path) else {
                self.problems.push(Problem::Inconsistent {
                    item: item_ref(item),
                    reason: format!("the manifest lists no {meta_path}"),
                });
                continue;
            };
            // Read as plain JSON: only the hashes matter here, and a record written before a
            // quality report gained a field must still verify.
            let Some(record) = self.json::<serde_json::Value>(meta_item) else {
                continue;
            };
            let uses = record.get("uses").and_then(|uses| uses.as_array());
            let reports_elsewhere = uses.into_iter().flatten().any(|meta| {
                meta.pointer("/report/sha256")
                    .is_some_and(|report| report.as_str() != Some(sha))
            });
            if record.get("sha256").and_then(|v| v.as_str()) != Some(sha) || reports_elsewhere {
                self.problems.push(Problem::Inconsistent {
                    item: item_ref(meta_item),
                    reason: "describes another photo".into(),
                });
            }
        }
        count
    }
}

fn names_item(problem: &Problem, path: &str) -> bool {
    match problem {
        Problem::Changed { item }
        | Problem::Moved { item, .. }
        | Problem::Missing { item }
        | Problem::Unreadable { item, .. } => item.path == path,
        _ => false,
    }
}

fn describe_chain_error(error: &ChainError) -> String {
    match error {
        ChainError::Sequence {
            index,
            expected,
            found,
        } => format!(
            "record {} of the bundle is seq {found}, expected seq {expected} (an event is missing, added or out of order)",
            index + 1
        ),
        ChainError::Link { seq } => format!(
            "event {seq} ({}) does not point at the previous event's hash",
            event_path(*seq)
        ),
        ChainError::Content { seq } => format!(
            "event {seq} ({}) does not match its own hash (it was edited)",
            event_path(*seq)
        ),
        ChainError::ForeignCase {
            seq,
            expected,
            found,
        } => format!("event {seq} belongs to case {found}, not {expected}"),
    }
}
