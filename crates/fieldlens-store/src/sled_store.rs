//! The sled implementation of [`Store`](crate::Store).

use crate::files::Files;
use crate::{
    CasePage, CreateOutcome, MAX_EVENTS_PER_READ, SCHEMA_VERSION, Scan, Store, StoreError,
    UploadRecord,
};
use fieldlens_core::event::EventRecord;
use fieldlens_core::technician::TechnicianRecord;
use fieldlens_core::{Case, CaseId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::{Duration, Instant};

/// A [`Store`] in one sled database inside the data directory.
pub struct SledStore {
    db: sled::Db,
    /// Cases, their events and their idempotency keys, under one-byte prefixes
    /// ([`case_key`], [`event_key`], [`key_entry`]), so that one atomic batch on
    /// one tree writes a case with everything that changed with it.
    cases: sled::Tree,
    /// Case writes not yet in `cases`; every case write checks and adds under this lock.
    pending: std::sync::Mutex<Pending>,
    /// One [`Store::sync`] at a time, so groups reach sled in the order they were written.
    syncing: std::sync::Mutex<()>,
    technicians: sled::Tree,
    /// Upload records ([`upload_key`] → [`UploadRecord`]); their bytes are in `files`.
    uploads: sled::Tree,
    /// Every change to an upload record and its part file happens under this lock.
    uploading: std::sync::Mutex<()>,
    /// Upload part files and blobs.
    files: Files,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

fn io(error: sled::Error) -> StoreError {
    StoreError::Io(error.to_string())
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("stored types serialize")
}

fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// Prefix of a case's state in the case tree; ids sort in opening order (UUIDv7).
const CASE: u8 = b'c';
/// Prefix of an event record: case id, NUL, big-endian seq.
const EVENT: u8 = b'e';
/// Prefix of an idempotency key; its value is the case id.
const IDEMPOTENCY_KEY: u8 = b'k';

fn prefixed(prefix: u8, text: &str, extra: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + text.len() + extra);
    key.push(prefix);
    key.extend_from_slice(text.as_bytes());
    key
}

fn case_key(id: &CaseId) -> Vec<u8> {
    prefixed(CASE, id.as_str(), 0)
}

fn event_key(id: &CaseId, seq: u64) -> Vec<u8> {
    let mut key = prefixed(EVENT, id.as_str(), 9);
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn key_entry(key: &str) -> Vec<u8> {
    prefixed(IDEMPOTENCY_KEY, key, 0)
}

/// A case's event records as case-tree entries.
fn event_entries(case: &Case, events: &[EventRecord]) -> Vec<(Vec<u8>, Vec<u8>)> {
    events
        .iter()
        .map(|record| (event_key(&case.id, record.seq), encode(record)))
        .collect()
}

type Entries = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

/// Case writes made since the last sync. [`Store::sync`] applies them to sled as one
/// atomic batch: sled logs every batch with two writes of its own (it rolls its IO
/// buffer before and after the batch), so one batch per group of writes instead of
/// one per write is most of what storing a case costs. Reads look here first.
#[derive(Default)]
struct Pending {
    /// Written since the last sync started.
    open: Entries,
    /// Taken by the sync under way; read until sled holds them.
    applying: std::sync::Arc<Entries>,
}

impl Pending {
    fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.open.get(key).or_else(|| self.applying.get(key))
    }

    /// Pending entries with keys in `range`, newer writes winning, in key order.
    fn in_range(&self, range: &std::ops::Range<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut entries: Entries = self
            .applying
            .range(range.clone())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        entries.extend(
            self.open
                .range(range.clone())
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        entries.into_iter().collect()
    }
}

/// Stored and pending entries of one key range merged in key order (descending if
/// `descending`), pending ones replacing stored ones with the same key.
fn merged(
    stored: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    descending: bool,
) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> {
    let mut stored = stored.peekable();
    let mut pending: Box<dyn Iterator<Item = (Vec<u8>, Vec<u8>)>> = if descending {
        Box::new(pending.into_iter().rev())
    } else {
        Box::new(pending.into_iter())
    };
    let mut next_pending = pending.next();
    std::iter::from_fn(move || {
        let stored_key = match stored.peek() {
            Some(Ok((key, _))) => Some(key.to_vec()),
            Some(Err(_)) => {
                return match stored.next() {
                    Some(Err(error)) => Some(Err(io(error))),
                    _ => None,
                };
            }
            None => None,
        };
        let take_pending = match (&next_pending, &stored_key) {
            (Some((pending_key, _)), Some(stored_key)) => {
                if pending_key == stored_key {
                    stored.next();
                    true
                } else {
                    (pending_key > stored_key) == descending
                }
            }
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_pending {
            let entry = next_pending.take();
            next_pending = pending.next();
            entry.map(Ok)
        } else {
            stored
                .next()
                .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(io))
        }
    })
}

/// The one field an update checks, read without decoding the whole stored case.
#[derive(serde::Deserialize)]
struct StoredEventCount {
    event_count: u64,
}

/// `scope NUL upload_id`: an upload's record.
fn upload_key(scope: &str, upload_id: &str) -> Result<Vec<u8>, StoreError> {
    if scope.contains('\0') || upload_id.contains('\0') {
        return Err(StoreError::UploadRefused {
            upload: format!("{scope:?}/{upload_id:?}"),
            reason: "scope and upload id may not contain NUL".into(),
        });
    }
    let mut key = Vec::with_capacity(scope.len() + upload_id.len() + 1);
    key.extend_from_slice(scope.as_bytes());
    key.push(0);
    key.extend_from_slice(upload_id.as_bytes());
    Ok(key)
}

fn refused(scope: &str, upload_id: &str, reason: impl Into<String>) -> StoreError {
    StoreError::UploadRefused {
        upload: format!("{scope}/{upload_id}"),
        reason: reason.into(),
    }
}

/// How long opening waits for the database's lock: sled lets it go from a background
/// thread a moment after its last handle is dropped, and a process that is exiting holds
/// it until it is gone.
const LOCK_WAIT: Duration = Duration::from_secs(2);

impl SledStore {
    /// Opens (or creates) the store in `dir/db`. Fails clearly when another
    /// process has it open (after [`LOCK_WAIT`]) or its schema version differs.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Io(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let waiting_since = Instant::now();
        let db = loop {
            match sled::Config::new().path(dir.join("db")).open() {
                Ok(db) => break db,
                Err(sled::Error::Io(ref io_error))
                    if io_error.kind() == std::io::ErrorKind::WouldBlock
                        || io_error.to_string().contains("lock") =>
                {
                    if waiting_since.elapsed() >= LOCK_WAIT {
                        return Err(StoreError::Locked {
                            path: dir.display().to_string(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(other) => return Err(io(other)),
            }
        };
        // Before any tree is opened, so a directory of another layout is left as it was.
        check_schema(&db)?;
        let tree = |name: &str| db.open_tree(name).map_err(io);
        let store = SledStore {
            cases: tree("case_log")?,
            pending: std::sync::Mutex::default(),
            syncing: std::sync::Mutex::default(),
            technicians: tree("technicians")?,
            uploads: tree("uploads")?,
            uploading: std::sync::Mutex::default(),
            files: Files::open(dir.join("files"))?,
            db,
        };
        Ok(store)
    }

    fn lock_uploads(&self) -> std::sync::MutexGuard<'_, ()> {
        // Guards no data of its own: a panic under it leaves records and files as written.
        self.uploading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn upload_record(&self, key: &[u8]) -> Result<Option<UploadRecord>, StoreError> {
        self.uploads
            .get(key)
            .map_err(io)?
            .map(|bytes| decode("upload", &bytes))
            .transpose()
    }

    fn put_upload_record(&self, key: &[u8], record: &UploadRecord) -> Result<(), StoreError> {
        self.uploads.insert(key, encode(record)).map_err(io)?;
        Ok(())
    }
}

fn check_schema(db: &sled::Db) -> Result<(), StoreError> {
    match db.get("schema_version").map_err(io)? {
        Some(bytes) => {
            let found: u32 = decode("schema version", &bytes)?;
            if found != SCHEMA_VERSION {
                return Err(StoreError::SchemaMismatch {
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        None => {
            db.insert("schema_version", encode(&SCHEMA_VERSION))
                .map_err(io)?;
            db.flush().map_err(io)?;
        }
    }
    Ok(())
}

fn stored_case_id(bytes: &[u8]) -> CaseId {
    CaseId::new(String::from_utf8_lossy(bytes).into_owned())
}

impl SledStore {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Nothing guarded is left half done: a write adds its entries after its checks.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A case-tree value, pending or stored. Call with the pending lock held to check
    /// and write in one step.
    fn case_entry(&self, pending: &Pending, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match pending.get(key) {
            Some(value) => Ok(Some(value.clone())),
            None => Ok(self.cases.get(key).map_err(io)?.map(|v| v.to_vec())),
        }
    }

    fn read_entry(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.case_entry(&self.lock_pending(), key)
    }

    /// Pending and stored entries in `range`, merged in key order.
    fn read_range(
        &self,
        range: std::ops::Range<Vec<u8>>,
        descending: bool,
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> {
        // Pending entries first: one that a sync moves into sled meanwhile is then read
        // twice (once from each, same value) rather than not at all.
        let pending = self.lock_pending().in_range(&range);
        let stored: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if descending
        {
            Box::new(self.cases.range(range).rev())
        } else {
            Box::new(self.cases.range(range))
        };
        merged(stored, pending, descending)
    }

    /// Applies the pending case writes to sled as one atomic batch.
    fn apply_pending(&self) -> Result<(), StoreError> {
        let entries = {
            let mut pending = self.lock_pending();
            let open = std::mem::take(&mut pending.open);
            pending.applying = std::sync::Arc::new(open);
            std::sync::Arc::clone(&pending.applying)
        };
        if entries.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (key, value) in entries.iter() {
            batch.insert(key.as_slice(), value.as_slice());
        }
        let result = self.cases.apply_batch(batch).map_err(io);
        let mut pending = self.lock_pending();
        let applied = std::mem::take(&mut pending.applying);
        if result.is_err() {
            // Keep them for the next sync, behind anything written since.
            let mut retry = std::sync::Arc::unwrap_or_clone(applied);
            retry.append(&mut pending.open);
            pending.open = retry;
        }
        result
    }
}

impl Store for SledStore {
    fn create_case(
        &self,
        case: &Case,
        events: &[EventRecord],
    ) -> Result<CreateOutcome, StoreError> {
        let key = key_entry(&case.idempotency_key);
        let case_bytes = encode(case);
        let records = event_entries(case, events);
        let mut pending = self.lock_pending();
        if let Some(existing) = self.case_entry(&pending, &key)? {
            return Ok(CreateOutcome::Existing(stored_case_id(&existing)));
        }
        pending
            .open
            .insert(key, case.id.as_str().as_bytes().to_vec());
        pending.open.insert(case_key(&case.id), case_bytes);
        pending.open.extend(records);
        Ok(CreateOutcome::Created)
    }

    fn update_case(&self, case: &Case, events: &[EventRecord]) -> Result<(), StoreError> {
        let first_new = (case.event_count + 1).saturating_sub(events.len() as u64);
        let key = case_key(&case.id);
        let case_bytes = encode(case);
        let records = event_entries(case, events);
        let mut pending = self.lock_pending();
        let Some(stored) = self.case_entry(&pending, &key)? else {
            return Err(StoreError::MissingCase(case.id.to_string()));
        };
        let stored: StoredEventCount = decode("case", &stored)?;
        if stored.event_count + 1 != first_new {
            return Err(StoreError::Conflict {
                case: case.id.to_string(),
                stored: stored.event_count,
                expected: first_new.saturating_sub(1),
            });
        }
        pending.open.insert(key, case_bytes);
        pending.open.extend(records);
        Ok(())
    }

    fn case(&self, id: &CaseId) -> Result<Option<Case>, StoreError> {
        self.read_entry(&case_key(id))?
            .map(|bytes| decode("case", &bytes))
            .transpose()
    }

    fn case_for_key(&self, idempotency_key: &str) -> Result<Option<CaseId>, StoreError> {
        Ok(self
            .read_entry(&key_entry(idempotency_key))?
            .map(|bytes| stored_case_id(&bytes)))
    }

    fn events(
        &self,
        id: &CaseId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut end = prefixed(EVENT, id.as_str(), 1);
        end.push(1);
        self.read_range(event_key(id, after_seq.saturating_add(1))..end, false)
            .take(limit.min(MAX_EVENTS_PER_READ))
            .map(|entry| {
                let (_, value) = entry?;
                decode("event", &value)
            })
            .collect()
    }

    fn list_cases(
        &self,
        cursor: Option<&str>,
        limit: usize,
        filter: &dyn Fn(&Case) -> Scan,
    ) -> Result<CasePage, StoreError> {
        // A cursor is the key of the last case on the previous page; this page ends before it.
        let end = match cursor {
            Some(cursor) => hex::decode(cursor)
                .ok()
                .filter(|key| key.first() == Some(&CASE))
                .ok_or_else(|| StoreError::Corrupt {
                    what: "page cursor",
                    detail: "not a cursor from a previous page".into(),
                })?,
            None => vec![CASE + 1],
        };
        let mut page = CasePage::default();
        for entry in self.read_range(vec![CASE]..end, true) {
            let (key, bytes) = entry?;
            let case: Case = decode("case", &bytes)?;
            match filter(&case) {
                Scan::Take => {
                    page.cases.push(case);
                    if page.cases.len() == limit {
                        page.next = Some(hex::encode(&key));
                        break;
                    }
                }
                Scan::Skip => {}
                Scan::Stop => break,
            }
        }
        Ok(page)
    }

    fn active_cases(&self) -> Result<Vec<Case>, StoreError> {
        let mut active = Vec::new();
        for entry in self.read_range(vec![CASE]..vec![CASE + 1], false) {
            let (_, bytes) = entry?;
            let case: Case = decode("case", &bytes)?;
            if !case.status.is_final() {
                active.push(case);
            }
        }
        Ok(active)
    }

    fn next_arrival(&self) -> Result<u64, StoreError> {
        self.db.generate_id().map_err(io)
    }

    fn put_technician(&self, record: &TechnicianRecord) -> Result<(), StoreError> {
        self.technicians
            .insert(record.id.as_str().as_bytes(), encode(record))
            .map_err(io)?;
        Ok(())
    }

    fn technicians(&self) -> Result<Vec<TechnicianRecord>, StoreError> {
        self.technicians
            .iter()
            .map(|entry| {
                let (_, bytes) = entry.map_err(io)?;
                decode("technician", &bytes)
            })
            .collect()
    }

    fn put_blob(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.files.put_blob(sha256, bytes)
    }

    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.blob(sha256)
    }

    fn begin_upload(
        &self,
        scope: &str,
        upload_id: &str,
        size: u64,
        sha256: &str,
    ) -> Result<UploadRecord, StoreError> {
        let key = upload_key(scope, upload_id)?;
        let _uploads = self.lock_uploads();
        let Some(mut record) = self.upload_record(&key)? else {
            let fresh = UploadRecord {
                size,
                sha256: sha256.to_owned(),
                stored: 0,
                complete: false,
            };
            self.put_upload_record(&key, &fresh)?;
            return Ok(fresh);
        };
        if record.size != size || record.sha256 != sha256 {
            return Err(StoreError::UploadConflict {
                upload: format!("{scope}/{upload_id}"),
            });
        }
        // A record made durable by a sync that ran beside a write may count bytes that a
        // crash then lost from the part file; resume from what the file holds.
        let renamed = record.stored == record.size && self.files.has_blob(&record.sha256);
        if !record.complete && !renamed {
            let held = self.files.part_len(&key)?;
            if held < record.stored {
                record.stored = held;
                self.put_upload_record(&key, &record)?;
            }
        }
        Ok(record)
    }

    fn append_upload(
        &self,
        scope: &str,
        upload_id: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<u64, StoreError> {
        let key = upload_key(scope, upload_id)?;
        let _uploads = self.lock_uploads();
        let Some(mut record) = self.upload_record(&key)? else {
            return Err(refused(scope, upload_id, "not declared"));
        };
        let end = offset.checked_add(data.len() as u64);
        let problem = if record.complete {
            Some("already complete".to_owned())
        } else if offset != record.stored {
            Some(format!(
                "write at {offset}, but {} bytes are stored",
                record.stored
            ))
        } else if end.is_none_or(|end| end > record.size) {
            Some(format!(
                "{} bytes at {offset} exceed the declared size {}",
                data.len(),
                record.size
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(refused(scope, upload_id, problem));
        }
        if !data.is_empty() {
            self.files.write_part(&key, offset, data)?;
            record.stored += data.len() as u64;
            self.put_upload_record(&key, &record)?;
        }
        Ok(record.stored)
    }

    fn upload_bytes(&self, scope: &str, upload_id: &str) -> Result<Vec<u8>, StoreError> {
        let key = upload_key(scope, upload_id)?;
        let _uploads = self.lock_uploads();
        let Some(record) = self.upload_record(&key)? else {
            return Ok(Vec::new());
        };
        if record.complete {
            return Ok(Vec::new());
        }
        if let Some(bytes) = self.files.read_part(&key, record.stored)? {
            return Ok(bytes);
        }
        if record.stored == 0 {
            return Ok(Vec::new());
        }
        // Renamed into its blob just before a crash kept the record from saying so.
        let renamed = if record.stored == record.size {
            self.files.blob(&record.sha256)?
        } else {
            None
        };
        renamed.ok_or_else(|| StoreError::Corrupt {
            what: "upload",
            detail: format!("{scope}/{upload_id}: its bytes are missing"),
        })
    }

    fn complete_upload(&self, scope: &str, upload_id: &str) -> Result<(), StoreError> {
        let key = upload_key(scope, upload_id)?;
        let _uploads = self.lock_uploads();
        let Some(mut record) = self.upload_record(&key)? else {
            return Err(refused(scope, upload_id, "not declared"));
        };
        if record.complete {
            return Ok(());
        }
        if record.stored != record.size {
            return Err(refused(
                scope,
                upload_id,
                format!("{} of {} bytes stored", record.stored, record.size),
            ));
        }
        self.files.part_to_blob(&key, record.size, &record.sha256)?;
        record.complete = true;
        self.put_upload_record(&key, &record)
    }

    fn discard_upload(&self, scope: &str, upload_id: &str) -> Result<(), StoreError> {
        let key = upload_key(scope, upload_id)?;
        let _uploads = self.lock_uploads();
        match self.upload_record(&key)? {
            Some(record) if !record.complete => {
                self.uploads.remove(&key).map_err(io)?;
                self.files.remove_part(&key)
            }
            _ => Ok(()),
        }
    }

    fn sync(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self
            .syncing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bytes before the records that count them.
        self.files.sync()?;
        self.apply_pending()?;
        self.db.flush().map_err(io)?;
        Ok(())
    }
}
