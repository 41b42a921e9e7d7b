//! Photo bytes on the file system: upload part files and content-addressed blobs.
//!
//! sled 0.34 keeps any value over about 128 KiB (a quarter of its segment) in a file of
//! its own that `flush` never fsyncs, so photo bytes kept in sled were not durable when
//! the store said they were. They live here instead, beside the database: one part file
//! per upload, renamed to `b-<sha256>` when complete. [`Files::sync`] fsyncs every part
//! written and the directory since the last sync, and runs before sled's log is flushed,
//! so a durable record never claims bytes that are not.

use crate::StoreError;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest blob key accepted (hex digits); SHA-512 would fit.
const MAX_BLOB_KEY: usize = 128;

/// Prefix of a blob being written, before it is renamed into place.
const TEMPORARY: &str = "t-";

/// Part files and blobs in one directory.
pub(crate) struct Files {
    dir: PathBuf,
    unsynced: Mutex<Unsynced>,
}

/// What the next [`Files::sync`] must make durable.
#[derive(Default)]
struct Unsynced {
    parts: BTreeSet<PathBuf>,
    directory: bool,
}

fn failed(what: &str, path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {error}", path.display()))
}

impl Files {
    /// Opens (or creates) `dir`, dropping blobs a crash left half written.
    pub(crate) fn open(dir: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&dir).map_err(|e| failed("cannot create", &dir, e))?;
        let entries = std::fs::read_dir(&dir).map_err(|e| failed("cannot list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| failed("cannot list", &dir, e))?;
            if entry.file_name().to_string_lossy().starts_with(TEMPORARY) {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| failed("cannot remove", &path, e))?;
            }
        }
        Ok(Files {
            dir,
            unsynced: Mutex::default(),
        })
    }

    fn unsynced(&self) -> std::sync::MutexGuard<'_, Unsynced> {
        // Only sets of paths are guarded; a panic mid-update leaves them usable.
        self.unsynced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The part file of an upload: named by the SHA-256 of its key, which may hold any text.
    fn part_path(&self, upload_key: &[u8]) -> PathBuf {
        self.dir
            .join(format!("u-{}", hex::encode(Sha256::digest(upload_key))))
    }

    /// The blob file of a key, if the key is lowercase hex (it becomes a file name).
    fn blob_path(&self, key: &str) -> Option<PathBuf> {
        let hex = !key.is_empty()
            && key.len() <= MAX_BLOB_KEY
            && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        hex.then(|| self.dir.join(format!("b-{key}")))
    }

    fn checked_blob_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        self.blob_path(key)
            .ok_or_else(|| StoreError::BlobKey(key.to_owned()))
    }

    /// Whether the blob of `key` is stored.
    pub(crate) fn has_blob(&self, key: &str) -> bool {
        self.blob_path(key).is_some_and(|path| path.exists())
    }

    /// Writes `data` at `offset` of an upload's part file (created by the write at 0).
    pub(crate) fn write_part(
        &self,
        upload_key: &[u8],
        offset: u64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let path = self.part_path(upload_key);
        // Only a write at 0 can create the file (the store resumes from what it holds), so
        // later chunks skip the look-up; a file that already existed costs one spare
        // directory sync.
        let created = offset == 0;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| failed("cannot open", &path, e))?;
        file.write_all_at(data, offset)
            .map_err(|e| failed("cannot write", &path, e))?;
        let mut unsynced = self.unsynced();
        unsynced.directory |= created;
        unsynced.parts.insert(path);
        Ok(())
    }

    /// Bytes in an upload's part file (0 when it has none).
    pub(crate) fn part_len(&self, upload_key: &[u8]) -> Result<u64, StoreError> {
        let path = self.part_path(upload_key);
        match std::fs::metadata(&path) {
            Ok(metadata) => Ok(metadata.len()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
            Err(e) => Err(failed("cannot read", &path, e)),
        }
    }

    /// The first `len` bytes of an upload's part file; `None` if it has no part file.
    pub(crate) fn read_part(
        &self,
        upload_key: &[u8],
        len: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.part_path(upload_key);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(failed("cannot open", &path, e)),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(len)
            .read_to_end(&mut bytes)
            .map_err(|e| failed("cannot read", &path, e))?;
        if (bytes.len() as u64) < len {
            return Err(StoreError::Corrupt {
                what: "upload",
                detail: format!("{}: {} of {len} bytes", path.display(), bytes.len()),
            });
        }
        Ok(Some(bytes))
    }

    /// Forgets an upload's part file.
    pub(crate) fn remove_part(&self, upload_key: &[u8]) -> Result<(), StoreError> {
        let path = self.part_path(upload_key);
        let mut unsynced = self.unsynced();
        unsynced.parts.remove(&path);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                unsynced.directory = true;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed("cannot remove", &path, e)),
        }
    }

    /// Makes an upload's first `len` bytes the blob of `key`, by renaming its part file
    /// (or dropping it when that blob exists). Done already (a crash after the rename)
    /// is fine; neither part nor blob is corruption.
    pub(crate) fn part_to_blob(
        &self,
        upload_key: &[u8],
        len: u64,
        key: &str,
    ) -> Result<(), StoreError> {
        let blob = self.checked_blob_path(key)?;
        if blob.exists() {
            return self.remove_part(upload_key);
        }
        let part = self.part_path(upload_key);
        let file = OpenOptions::new().write(true).open(&part).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                StoreError::Corrupt {
                    what: "upload",
                    detail: format!("{}: neither its bytes nor its blob", part.display()),
                }
            } else {
                failed("cannot open", &part, e)
            }
        })?;
        // A failed earlier attempt may have left bytes past the end.
        file.set_len(len)
            .and_then(|()| file.sync_data())
            .map_err(|e| failed("cannot sync", &part, e))?;
        let mut unsynced = self.unsynced();
        std::fs::rename(&part, &blob).map_err(|e| failed("cannot rename", &part, e))?;
        unsynced.parts.remove(&part);
        unsynced.directory = true;
        Ok(())
    }

    /// Stores `bytes` as the blob of `key` unless it is stored; the bytes are durable
    /// before the blob appears under its name, so a blob is never torn.
    pub(crate) fn put_blob(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let blob = self.checked_blob_path(key)?;
        if blob.exists() {
            return Ok(());
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let temporary = self.dir.join(format!(
            "{TEMPORARY}{key}-{}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = File::create(&temporary).and_then(|file| {
            file.write_all_at(bytes, 0)?;
            file.sync_data()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, &blob)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(failed("cannot store", &blob, e));
        }
        self.unsynced().directory = true;
        Ok(())
    }

    /// The blob of `key`, if stored.
    pub(crate) fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(path) = self.blob_path(key) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed("cannot read", &path, e)),
        }
    }

    /// Makes every part written and every rename, creation and removal durable.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let Unsynced { parts, directory } = std::mem::take(&mut *self.unsynced());
        let synced = parts.iter().try_for_each(|path| match File::open(path) {
            Ok(file) => file.sync_data().map_err(|e| failed("cannot sync", path, e)),
            // Renamed into a blob (synced then) or removed since.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed("cannot sync", path, e)),
        });
        let synced = synced.and_then(|()| {
            if directory {
                File::open(&self.dir)
                    .and_then(|dir| dir.sync_all())
                    .map_err(|e| failed("cannot sync", &self.dir, e))
            } else {
                Ok(())
            }
        });
        if synced.is_err() {
            // Left for the next sync to try again.
            let mut unsynced = self.unsynced();
            unsynced.parts.extend(parts);
            unsynced.directory |= directory;
        }
        synced
    }
}
