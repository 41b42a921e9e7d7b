//! Durable storage for fieldlens on sled, behind a small trait that leaks no sled types.
//!
//! Writes are atomic per call (a case and the events that changed it land
//! together or not at all) but become durable only at the next [`Store::sync`]
//! (the sled store keeps case writes in memory until then and applies each group
//! as one atomic batch, since sled charges two log writes per batch). Photo bytes
//! (uploads and blobs) are files beside the database, fsynced by the same sync
//! before sled's log: sled does not fsync values as large as a photo chunk.
//! The hub writes under its state lock and syncs after releasing it, so one
//! fsync covers every write made before it: group commit without a queue.

mod files;
mod sled_store;

pub use sled_store::SledStore;

use fieldlens_core::event::EventRecord;
use fieldlens_core::technician::TechnicianRecord;
use fieldlens_core::{Case, CaseId};

/// The layout version this build reads and writes. 2: cases, events and idempotency keys
/// in one tree written by atomic batches, listed by id; event hashes over the record's JSON.
/// 3: upload bytes and blobs in files beside the database, fsynced at every sync.
pub const SCHEMA_VERSION: u32 = 3;

/// Most events returned by one [`Store::events`] call.
pub const MAX_EVENTS_PER_READ: usize = 1000;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the data directory.
    #[error(
        "data directory {path} is in use by another fieldlens process; stop it or choose another --data-dir"
    )]
    Locked {
        /// The data directory.
        path: String,
    },
    /// The data directory was written by a build with another layout.
    #[error("data directory holds schema version {found}; this build reads version {expected}")]
    SchemaMismatch {
        /// Version found on disk.
        found: u32,
        /// Version this build supports.
        expected: u32,
    },
    /// The write would append events out of order (a concurrent writer won).
    #[error("case {case}: store has {stored} events but the write continues from {expected}")]
    Conflict {
        /// The case concerned.
        case: String,
        /// Events stored.
        stored: u64,
        /// Events the writer assumed.
        expected: u64,
    },
    /// A case to update does not exist.
    #[error("case {0} is not stored")]
    MissingCase(String),
    /// Stored bytes could not be decoded (corruption or a bug).
    #[error("stored {what} could not be decoded: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The underlying database or file system failed.
    #[error("storage failure: {0}")]
    Io(String),
    /// An upload was declared again with another size or hash.
    #[error("upload {upload} was declared before with another size or hash")]
    UploadConflict {
        /// The upload, as `<scope>/<upload id>`.
        upload: String,
    },
    /// An upload write that does not fit its record: unknown or completed upload, a gap
    /// or overlap, bytes beyond the declared size, an id with a NUL byte.
    #[error("upload {upload}: {reason}")]
    UploadRefused {
        /// The upload, as `<scope>/<upload id>`.
        upload: String,
        /// What did not fit.
        reason: String,
    },
    /// A blob was to be stored under a key that is not a lowercase hex digest.
    #[error("blob key {0:?} is not a lowercase hex digest of at most 128 digits")]
    BlobKey(String),
}

/// Result of creating a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The case was stored.
    Created,
    /// A case with the same idempotency key already exists; nothing was written.
    Existing(CaseId),
}

/// What a case listing does with the case it has just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Put it on the page.
    Take,
    /// Leave it out and read on.
    Skip,
    /// Leave it out and end the listing: no older case can match either.
    Stop,
}

/// A page of cases, newest first.
#[derive(Debug, Clone, Default)]
pub struct CasePage {
    /// The cases.
    pub cases: Vec<Case>,
    /// Opaque cursor for the next page; `None` at the end.
    pub next: Option<String>,
}

/// A resumable upload: what was declared and how much of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UploadRecord {
    /// Declared size in bytes.
    pub size: u64,
    /// Declared SHA-256, lowercase hex.
    pub sha256: String,
    /// Leading bytes stored so far, without gaps.
    pub stored: u64,
    /// The bytes were verified and are the blob of `sha256` now.
    pub complete: bool,
}

/// Persistence the hub needs. Implementations must make every write atomic
/// and every write made before a successful [`Store::sync`] durable.
pub trait Store: Send + Sync + 'static {
    /// Stores a new case with its first events and its idempotency key,
    /// unless the key is already taken.
    fn create_case(&self, case: &Case, events: &[EventRecord])
    -> Result<CreateOutcome, StoreError>;
    /// Replaces a case's state and appends the events that produced it. The
    /// events must continue the stored log exactly.
    fn update_case(&self, case: &Case, events: &[EventRecord]) -> Result<(), StoreError>;
    /// Reads a case.
    fn case(&self, id: &CaseId) -> Result<Option<Case>, StoreError>;
    /// The case opened with an idempotency key, if any.
    fn case_for_key(&self, idempotency_key: &str) -> Result<Option<CaseId>, StoreError>;
    /// Events with `seq > after_seq`, in order, at most `limit` (capped at [`MAX_EVENTS_PER_READ`]).
    fn events(
        &self,
        id: &CaseId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError>;
    /// Cases in descending id order — newest first, since the hub's case ids are
    /// time-ordered (UUIDv7) — starting after `cursor`, keeping those `filter` takes,
    /// until `limit` are found or `filter` says [`Scan::Stop`].
    fn list_cases(
        &self,
        cursor: Option<&str>,
        limit: usize,
        filter: &dyn Fn(&Case) -> Scan,
    ) -> Result<CasePage, StoreError>;
    /// Every case that is not in a final status (for rebuilding the queue at start).
    fn active_cases(&self) -> Result<Vec<Case>, StoreError>;
    /// A new arrival number, greater than every one handed out before (also across restarts).
    fn next_arrival(&self) -> Result<u64, StoreError>;
    /// Stores a technician's presence.
    fn put_technician(&self, record: &TechnicianRecord) -> Result<(), StoreError>;
    /// Every stored technician.
    fn technicians(&self) -> Result<Vec<TechnicianRecord>, StoreError>;
    /// Stores bytes under their SHA-256 (hex); storing the same bytes twice is a no-op,
    /// also when an upload already holds them ([`Store::complete_upload`]).
    fn put_blob(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// Reads bytes by SHA-256 (hex), whether stored by [`Store::put_blob`] or kept from
    /// an upload by [`Store::complete_upload`].
    fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Declares an upload under `(scope, upload_id)`, or returns the record of the one
    /// declared before; [`StoreError::UploadConflict`] if that had another size or hash.
    fn begin_upload(
        &self,
        scope: &str,
        upload_id: &str,
        size: u64,
        sha256: &str,
    ) -> Result<UploadRecord, StoreError>;
    /// Stores `data` at `offset`, which must equal the bytes stored so far, atomically
    /// with the record; returns the bytes stored now.
    fn append_upload(
        &self,
        scope: &str,
        upload_id: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<u64, StoreError>;
    /// The bytes stored for an upload, in order (empty once complete: they are a blob then).
    fn upload_bytes(&self, scope: &str, upload_id: &str) -> Result<Vec<u8>, StoreError>;
    /// Marks a fully stored upload complete and makes its bytes the blob of its declared
    /// SHA-256 without copying them (the upload's file is renamed; if that blob exists
    /// already, the upload's bytes are dropped). A crash between the two steps is
    /// completed by the next call.
    /// The caller must have verified that the bytes hash to the declared SHA-256.
    /// Completing a complete upload is a no-op.
    fn complete_upload(&self, scope: &str, upload_id: &str) -> Result<(), StoreError>;
    /// Forgets an upload and its bytes (e.g. when they did not match its hash). A
    /// complete upload is kept: its bytes may be a blob.
    fn discard_upload(&self, scope: &str, upload_id: &str) -> Result<(), StoreError>;
    /// Makes every write made so far durable.
    fn sync(&self) -> Result<(), StoreError>;
}
