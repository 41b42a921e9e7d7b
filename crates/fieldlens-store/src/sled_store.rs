//! The sled implementation of [`Store`](crate::Store).

use crate::{
    CasePage, CreateOutcome, MAX_EVENTS_PER_READ, SCHEMA_VERSION, Store, StoreError, UploadRecord,
    recency_key,
};
use fieldlens_core::event::EventRecord;
use fieldlens_core::technician::TechnicianRecord;
use fieldlens_core::{Case, CaseId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::Path;

/// A [`Store`] in one sled database inside the data directory.
pub struct SledStore {
    db: sled::Db,
    cases: sled::Tree,
    events: sled::Tree,
    keys: sled::Tree,
    recency: sled::Tree,
    technicians: sled::Tree,
    blobs: sled::Tree,
    uploads: sled::Tree,
    upload_chunks: sled::Tree,
    /// SHA-256 → the key of the complete upload whose chunks are that blob's bytes.
    blob_refs: sled::Tree,
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

fn event_key(id: &CaseId, seq: u64) -> Vec<u8> {
    let mut key = id.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// `scope NUL upload_id`: an upload's record; its chunks follow under this prefix plus
/// `NUL offset` (big-endian), so a prefix scan reads them in order.
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

fn chunks_prefix(upload_key: &[u8]) -> Vec<u8> {
    let mut prefix = upload_key.to_vec();
    prefix.push(0);
    prefix
}

fn chunk_key(upload_key: &[u8], offset: u64) -> Vec<u8> {
    let mut key = chunks_prefix(upload_key);
    key.extend_from_slice(&offset.to_be_bytes());
    key
}

fn refused(scope: &str, upload_id: &str, reason: impl Into<String>) -> StoreError {
    StoreError::UploadRefused {
        upload: format!("{scope}/{upload_id}"),
        reason: reason.into(),
    }
}

fn abort<T>(error: StoreError) -> Result<T, ConflictableTransactionError<StoreError>> {
    Err(ConflictableTransactionError::Abort(error))
}

impl SledStore {
    /// Opens (or creates) the store in `dir/db`. Fails clearly when another
    /// process has it open or its schema version differs.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Io(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .open()
            .map_err(|error| match error {
                sled::Error::Io(ref io_error)
                    if io_error.kind() == std::io::ErrorKind::WouldBlock
                        || io_error.to_string().contains("lock") =>
                {
                    StoreError::Locked {
                        path: dir.display().to_string(),
                    }
                }
                other => io(other),
            })?;
        let tree = |name: &str| db.open_tree(name).map_err(io);
        let store = SledStore {
            cases: tree("cases")?,
            events: tree("events")?,
            keys: tree("idempotency_keys")?,
            recency: tree("cases_by_recency")?,
            technicians: tree("technicians")?,
            blobs: tree("blobs")?,
            uploads: tree("uploads")?,
            upload_chunks: tree("upload_chunks")?,
            blob_refs: tree("blob_refs")?,
            db,
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Completes an upload (its chunks become the blob of its hash, or are dropped if
    /// that blob exists) or discards it (record and chunks go, unless it is complete), in
    /// one transaction.
    fn finish_upload(
        &self,
        scope: &str,
        upload_id: &str,
        complete: bool,
    ) -> Result<(), StoreError> {
        let key = upload_key(scope, upload_id)?;
        let chunk_keys: Vec<sled::IVec> = self
            .upload_chunks
            .scan_prefix(chunks_prefix(&key))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(io)?;
        // Blobs are never removed, so their look-up can go before the transaction (sled's
        // plain reads wait for running transactions: inside one they would deadlock).
        let stored_as_blob = match self.upload_record(&key)? {
            Some(record) if complete => self
                .blobs
                .contains_key(record.sha256.as_bytes())
                .map_err(io)?,
            _ => false,
        };
        let result = (&self.uploads, &self.upload_chunks, &self.blob_refs).transaction(
            |(uploads, chunks, refs)| {
                let Some(bytes) = uploads.get(&key)? else {
                    return if complete {
                        abort(refused(scope, upload_id, "not declared"))
                    } else {
                        Ok(())
                    };
                };
                let mut record: UploadRecord =
                    decode("upload", &bytes).map_err(ConflictableTransactionError::Abort)?;
                if record.complete {
                    return Ok(());
                }
                let keep_chunks = if complete {
                    if record.stored != record.size {
                        return abort(refused(
                            scope,
                            upload_id,
                            format!("{} of {} bytes stored", record.stored, record.size),
                        ));
                    }
                    let sha256 = record.sha256.as_bytes();
                    let known = stored_as_blob || refs.get(sha256)?.is_some();
                    if !known {
                        refs.insert(sha256, key.as_slice())?;
                    }
                    record.complete = true;
                    uploads.insert(key.as_slice(), encode(&record))?;
                    !known
                } else {
                    uploads.remove(key.as_slice())?;
                    false
                };
                if !keep_chunks {
                    for chunk in &chunk_keys {
                        chunks.remove(chunk)?;
                    }
                }
                Ok(())
            },
        );
        result.map_err(transaction_error)
    }

    /// The chunks stored under an upload's key, in order, checked to have no gaps.
    fn chunks(&self, key: &[u8], upload: &dyn std::fmt::Display) -> Result<Vec<u8>, StoreError> {
        let mut bytes = Vec::new();
        for entry in self.upload_chunks.scan_prefix(chunks_prefix(key)) {
            let (chunk_key, chunk) = entry.map_err(io)?;
            let offset = chunk_key
                .len()
                .checked_sub(8)
                .and_then(|at| chunk_key.get(at..))
                .and_then(|tail| <[u8; 8]>::try_from(tail).ok())
                .map(u64::from_be_bytes);
            if offset != Some(bytes.len() as u64) {
                return Err(StoreError::Corrupt {
                    what: "upload chunks",
                    detail: format!("{upload}: a chunk does not continue at {}", bytes.len()),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    fn upload_record(&self, key: &[u8]) -> Result<Option<UploadRecord>, StoreError> {
        self.uploads
            .get(key)
            .map_err(io)?
            .map(|bytes| decode("upload", &bytes))
            .transpose()
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        match self.db.get("schema_version").map_err(io)? {
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
                self.db
                    .insert("schema_version", encode(&SCHEMA_VERSION))
                    .map_err(io)?;
                self.sync()?;
            }
        }
        Ok(())
    }
}

fn transaction_error(error: TransactionError<StoreError>) -> StoreError {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => io(error),
    }
}

impl Store for SledStore {
    fn create_case(
        &self,
        case: &Case,
        events: &[EventRecord],
    ) -> Result<CreateOutcome, StoreError> {
        let case_bytes = encode(case);
        let result = (&self.cases, &self.events, &self.keys, &self.recency).transaction(
            |(cases, event_tree, keys, recency)| {
                if let Some(existing) = keys.get(case.idempotency_key.as_bytes())? {
                    let id = String::from_utf8_lossy(&existing).into_owned();
                    return Ok(CreateOutcome::Existing(CaseId::new(id)));
                }
                keys.insert(case.idempotency_key.as_bytes(), case.id.as_str().as_bytes())?;
                cases.insert(case.id.as_str().as_bytes(), case_bytes.as_slice())?;
                recency.insert(
                    recency_key(case.opened_at, &case.id),
                    case.id.as_str().as_bytes(),
                )?;
                for record in events {
                    event_tree.insert(event_key(&case.id, record.seq), encode(record))?;
                }
                Ok(CreateOutcome::Created)
            },
        );
        result.map_err(transaction_error)
    }

    fn update_case(&self, case: &Case, events: &[EventRecord]) -> Result<(), StoreError> {
        let case_bytes = encode(case);
        let first_new = case.event_count + 1 - events.len() as u64;
        let result = (&self.cases, &self.events).transaction(|(cases, event_tree)| {
            let Some(stored) = cases.get(case.id.as_str().as_bytes())? else {
                return Err(ConflictableTransactionError::Abort(
                    StoreError::MissingCase(case.id.to_string()),
                ));
            };
            let stored: Case =
                decode("case", &stored).map_err(ConflictableTransactionError::Abort)?;
            if stored.event_count + 1 != first_new {
                return Err(ConflictableTransactionError::Abort(StoreError::Conflict {
                    case: case.id.to_string(),
                    stored: stored.event_count,
                    expected: first_new - 1,
                }));
            }
            cases.insert(case.id.as_str().as_bytes(), case_bytes.as_slice())?;
            for record in events {
                event_tree.insert(event_key(&case.id, record.seq), encode(record))?;
            }
            Ok(())
        });
        result.map_err(transaction_error)
    }

    fn case(&self, id: &CaseId) -> Result<Option<Case>, StoreError> {
        self.cases
            .get(id.as_str().as_bytes())
            .map_err(io)?
            .map(|bytes| decode("case", &bytes))
            .transpose()
    }

    fn case_for_key(&self, idempotency_key: &str) -> Result<Option<CaseId>, StoreError> {
        Ok(self
            .keys
            .get(idempotency_key.as_bytes())
            .map_err(io)?
            .map(|bytes| CaseId::new(String::from_utf8_lossy(&bytes).into_owned())))
    }

    fn events(
        &self,
        id: &CaseId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let end = {
            let mut key = id.as_str().as_bytes().to_vec();
            key.push(1);
            key
        };
        self.events
            .range(event_key(id, after_seq.saturating_add(1))..end)
            .take(limit.min(MAX_EVENTS_PER_READ))
            .map(|entry| {
                let (_, value) = entry.map_err(io)?;
                decode("event", &value)
            })
            .collect()
    }

    fn list_cases(
        &self,
        cursor: Option<&str>,
        limit: usize,
        filter: &dyn Fn(&Case) -> bool,
    ) -> Result<CasePage, StoreError> {
        let start = match cursor {
            Some(cursor) => {
                let mut key = hex::decode(cursor).map_err(|_| StoreError::Corrupt {
                    what: "page cursor",
                    detail: "not a cursor from a previous page".into(),
                })?;
                key.push(0);
                key
            }
            None => Vec::new(),
        };
        let mut page = CasePage::default();
        for entry in self.recency.range(start..) {
            let (key, id) = entry.map_err(io)?;
            let Some(case) = self.case(&CaseId::new(String::from_utf8_lossy(&id).into_owned()))?
            else {
                continue;
            };
            if filter(&case) {
                page.cases.push(case);
                if page.cases.len() == limit {
                    page.next = Some(hex::encode(&key));
                    break;
                }
            }
        }
        Ok(page)
    }

    fn active_cases(&self) -> Result<Vec<Case>, StoreError> {
        let mut active = Vec::new();
        for entry in self.cases.iter() {
            let (_, bytes) = entry.map_err(io)?;
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
        let key = sha256.as_bytes();
        if !self.blobs.contains_key(key).map_err(io)?
            && !self.blob_refs.contains_key(key).map_err(io)?
        {
            self.blobs.insert(key, bytes).map_err(io)?;
        }
        Ok(())
    }

    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(bytes) = self.blobs.get(sha256.as_bytes()).map_err(io)? {
            return Ok(Some(bytes.to_vec()));
        }
        let Some(upload) = self.blob_refs.get(sha256.as_bytes()).map_err(io)? else {
            return Ok(None);
        };
        let corrupt = |detail: String| StoreError::Corrupt {
            what: "blob",
            detail,
        };
        let record = self
            .upload_record(&upload)?
            .filter(|record| record.complete && record.sha256 == sha256)
            .ok_or_else(|| corrupt(format!("{sha256}: its upload is missing")))?;
        let bytes = self.chunks(&upload, &sha256)?;
        if bytes.len() as u64 != record.size {
            return Err(corrupt(format!(
                "{sha256}: {} of {} bytes stored",
                bytes.len(),
                record.size
            )));
        }
        Ok(Some(bytes))
    }

    fn begin_upload(
        &self,
        scope: &str,
        upload_id: &str,
        size: u64,
        sha256: &str,
    ) -> Result<UploadRecord, StoreError> {
        let key = upload_key(scope, upload_id)?;
        let fresh = UploadRecord {
            size,
            sha256: sha256.to_owned(),
            stored: 0,
            complete: false,
        };
        let result = self.uploads.transaction(|uploads| {
            let Some(bytes) = uploads.get(&key)? else {
                uploads.insert(key.as_slice(), encode(&fresh))?;
                return Ok(fresh.clone());
            };
            let record: UploadRecord =
                decode("upload", &bytes).map_err(ConflictableTransactionError::Abort)?;
            if record.size != size || record.sha256 != sha256 {
                return abort(StoreError::UploadConflict {
                    upload: format!("{scope}/{upload_id}"),
                });
            }
            Ok(record)
        });
        result.map_err(transaction_error)
    }

    fn append_upload(
        &self,
        scope: &str,
        upload_id: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<u64, StoreError> {
        let key = upload_key(scope, upload_id)?;
        let result = (&self.uploads, &self.upload_chunks).transaction(|(uploads, chunks)| {
            let Some(bytes) = uploads.get(&key)? else {
                return abort(refused(scope, upload_id, "not declared"));
            };
            let mut record: UploadRecord =
                decode("upload", &bytes).map_err(ConflictableTransactionError::Abort)?;
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
                return abort(refused(scope, upload_id, problem));
            }
            if !data.is_empty() {
                chunks.insert(chunk_key(&key, offset), data)?;
            }
            record.stored += data.len() as u64;
            uploads.insert(key.as_slice(), encode(&record))?;
            Ok(record.stored)
        });
        result.map_err(transaction_error)
    }

    fn upload_bytes(&self, scope: &str, upload_id: &str) -> Result<Vec<u8>, StoreError> {
        let key = upload_key(scope, upload_id)?;
        if self.upload_record(&key)?.is_some_and(|r| r.complete) {
            return Ok(Vec::new());
        }
        self.chunks(&key, &format_args!("{scope}/{upload_id}"))
    }

    fn complete_upload(&self, scope: &str, upload_id: &str) -> Result<(), StoreError> {
        self.finish_upload(scope, upload_id, true)
    }

    fn discard_upload(&self, scope: &str, upload_id: &str) -> Result<(), StoreError> {
        self.finish_upload(scope, upload_id, false)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(io)?;
        Ok(())
    }
}
