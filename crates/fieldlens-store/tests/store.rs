//! The sled store: atomic case writes, idempotency, ordered events, paging, locking, reopening.

use fieldlens_core::case::{Case, CaseKind, Contact, Product};
use fieldlens_core::event::{Actor, CaseEvent, verify_chain};
use fieldlens_core::intake::NewCase;
use fieldlens_core::{CaseId, CaseStatus, Priority};
use fieldlens_store::{CreateOutcome, Scan, SledStore, Store, StoreError};

fn request(key: &str) -> NewCase {
    NewCase {
        case_kind: CaseKind::CarDamage,
        product: Product {
            category: "car".into(),
            brand: "Toyota".into(),
            model: "Corolla".into(),
            ..Product::default()
        },
        locale: "en-GB".into(),
        region: "uk-london".into(),
        contact: Contact {
            name: "Sam".into(),
            phone: "+447700900001".into(),
            email: String::new(),
        },
        idempotency_key: key.into(),
        priority: Priority::Normal,
        description: String::new(),
    }
}

fn create(store: &SledStore, id: &str, key: &str, at: i64) -> Case {
    let (case, first) = request(key).open(CaseId::new(id), at).unwrap();
    assert_eq!(
        store.create_case(&case, &[first]).unwrap(),
        CreateOutcome::Created
    );
    case
}

#[test]
fn cases_and_events_survive_reopen_and_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        let mut case = create(&store, "c-1", "key-00000001", 10);
        let queued = case
            .append(
                CaseEvent::Queued {
                    arrival: store.next_arrival().unwrap(),
                },
                Actor::System,
                11,
            )
            .unwrap();
        store.update_case(&case, &[queued]).unwrap();
        store.sync().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let case = store.case(&CaseId::new("c-1")).unwrap().unwrap();
    assert_eq!(case.status, CaseStatus::Queued);
    let events = store.events(&case.id, 0, 100).unwrap();
    assert_eq!(events.len(), 2);
    verify_chain(&case.id, &events).unwrap();
    assert_eq!(store.events(&case.id, 1, 100).unwrap().len(), 1);
    assert_eq!(store.active_cases().unwrap().len(), 1);
}

#[test]
fn idempotency_key_returns_the_first_case() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    create(&store, "c-1", "key-00000001", 10);
    let (again, first) = request("key-00000001")
        .open(CaseId::new("c-2"), 20)
        .unwrap();
    assert_eq!(
        store.create_case(&again, &[first]).unwrap(),
        CreateOutcome::Existing(CaseId::new("c-1"))
    );
    assert!(store.case(&CaseId::new("c-2")).unwrap().is_none());
    assert_eq!(
        store.case_for_key("key-00000001").unwrap(),
        Some(CaseId::new("c-1"))
    );
}

#[test]
fn reads_see_writes_before_and_after_the_sync_that_applies_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let mut stored = create(&store, "c-1", "key-00000001", 10);
    create(&store, "c-3", "key-00000003", 30);
    store.sync().unwrap();
    create(&store, "c-2", "key-00000002", 20);
    let queued = stored
        .append(CaseEvent::Queued { arrival: 1 }, Actor::System, 11)
        .unwrap();
    store.update_case(&stored, &[queued]).unwrap();
    for synced in [false, true] {
        let all = |_: &Case| Scan::Take;
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.list_cases(cursor.as_deref(), 1, &all).unwrap();
            ids.extend(page.cases.iter().map(|c| c.id.to_string()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(ids, ["c-3", "c-2", "c-1"], "synced: {synced}");
        let case = store.case(&stored.id).unwrap().unwrap();
        assert_eq!(case.status, CaseStatus::Queued);
        let events = store.events(&stored.id, 0, 10).unwrap();
        assert_eq!(events.len(), 2);
        verify_chain(&stored.id, &events).unwrap();
        assert_eq!(
            store.case_for_key("key-00000002").unwrap(),
            Some(CaseId::new("c-2"))
        );
        assert_eq!(store.active_cases().unwrap().len(), 3);
        store.sync().unwrap();
    }
}

#[test]
fn a_directory_of_another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        db.insert("schema_version", b"1").unwrap();
        db.flush().unwrap();
    }
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::SchemaMismatch {
                found: 1,
                expected: fieldlens_store::SCHEMA_VERSION
            }
        ),
        "{error}"
    );
}

#[test]
fn out_of_order_appends_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let mut case = create(&store, "c-1", "key-00000001", 10);
    let mut stale = case.clone();
    let queued = case
        .append(CaseEvent::Queued { arrival: 1 }, Actor::System, 11)
        .unwrap();
    store.update_case(&case, &[queued]).unwrap();
    let cancelled = stale
        .append(
            CaseEvent::Cancelled { reason: "x".into() },
            Actor::System,
            12,
        )
        .unwrap();
    assert!(matches!(
        store.update_case(&stale, &[cancelled]),
        Err(StoreError::Conflict {
            stored: 2,
            expected: 1,
            ..
        })
    ));
}

#[test]
fn listing_is_newest_first_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    for i in 0..5 {
        create(
            &store,
            &format!("c-{i}"),
            &format!("key-0000000{i}"),
            100 + i,
        );
    }
    let all = |_: &Case| Scan::Take;
    let first = store.list_cases(None, 2, &all).unwrap();
    let ids: Vec<_> = first.cases.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["c-4", "c-3"]);
    let second = store.list_cases(first.next.as_deref(), 2, &all).unwrap();
    let ids: Vec<_> = second.cases.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["c-2", "c-1"]);
    let last = store.list_cases(second.next.as_deref(), 2, &all).unwrap();
    assert_eq!(last.cases.len(), 1);
    assert!(last.next.is_none());
    let even = store
        .list_cases(None, 10, &|c: &Case| {
            if c.opened_at % 2 == 0 {
                Scan::Take
            } else {
                Scan::Skip
            }
        })
        .unwrap();
    assert_eq!(even.cases.len(), 3);
    // Stop ends the listing at the first case it is said for, even with room on the page.
    let newer = store
        .list_cases(None, 10, &|c: &Case| {
            if c.opened_at >= 102 {
                Scan::Take
            } else {
                Scan::Stop
            }
        })
        .unwrap();
    let ids: Vec<_> = newer.cases.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["c-4", "c-3", "c-2"]);
    assert!(newer.next.is_none());
    assert!(store.list_cases(Some("zz"), 2, &all).is_err());
}

#[test]
fn second_open_of_the_same_directory_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("in use by another fieldlens process")
    );
}

#[test]
fn blobs_are_content_addressed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    store.put_blob("ab", b"photo").unwrap();
    store.put_blob("ab", b"photo").unwrap();
    assert_eq!(store.blob("ab").unwrap().as_deref(), Some(&b"photo"[..]));
    assert!(store.blob("cd").unwrap().is_none());
    // Keys name files: anything but a lowercase hex digest is refused, never a path.
    for key in ["../ab", "AB", "", "a/b", &"a".repeat(129)] {
        let error = store.put_blob(key, b"x").unwrap_err();
        assert!(matches!(error, StoreError::BlobKey(_)), "{key}: {error}");
        assert!(store.blob(key).unwrap().is_none());
    }
}

/// The one part file of the upload in flight (files are named by a hash of the upload).
fn part_file(dir: &std::path::Path) -> std::path::PathBuf {
    let parts: Vec<_> = std::fs::read_dir(dir.join("files"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("u-")
        })
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");
    parts.into_iter().next().unwrap()
}

/// Leaves a closed store in `dir` whose upload s-1/u-1 (`size` bytes of SHA-256 `sha`
/// declared) holds `bytes`, synced; returns the upload's part file.
fn closed_with_upload(
    dir: &std::path::Path,
    size: u64,
    sha: &str,
    bytes: &[u8],
) -> std::path::PathBuf {
    let store = SledStore::open(dir).unwrap();
    store.begin_upload("s-1", "u-1", size, sha).unwrap();
    store.append_upload("s-1", "u-1", 0, bytes).unwrap();
    store.sync().unwrap();
    drop(store);
    part_file(dir)
}

#[test]
fn an_upload_resumes_from_what_its_file_holds_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "ab".repeat(32);
    let part = closed_with_upload(dir.path(), 10, &sha, b"012345");
    // A record made durable beside a write whose bytes a power cut then lost.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&part)
        .unwrap()
        .set_len(4)
        .unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        store.begin_upload("s-1", "u-1", 10, &sha).unwrap().stored,
        4
    );
    assert_eq!(store.upload_bytes("s-1", "u-1").unwrap(), b"0123");
    store.append_upload("s-1", "u-1", 4, b"45").unwrap();
    // Bytes past the record (written, never counted) are overwritten, then cut off.
    std::fs::write(&part, b"012345garbage").unwrap();
    store.append_upload("s-1", "u-1", 6, b"6789").unwrap();
    store.complete_upload("s-1", "u-1").unwrap();
    assert_eq!(
        store.blob(&sha).unwrap().as_deref(),
        Some(&b"0123456789"[..])
    );
}

#[test]
fn an_upload_renamed_into_its_blob_before_a_crash_completes_from_the_blob() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "cd".repeat(32);
    let part = closed_with_upload(dir.path(), 4, &sha, b"done");
    // Completion renames the file, then records it; the crash fell between the two.
    std::fs::rename(&part, dir.path().join("files").join(format!("b-{sha}"))).unwrap();
    // And a blob write the crash cut short is gone at the next start.
    let torn = dir.path().join("files").join(format!("t-{sha}-0"));
    std::fs::write(&torn, b"do").unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert!(!torn.exists());
    let record = store.begin_upload("s-1", "u-1", 4, &sha).unwrap();
    assert_eq!((record.stored, record.complete), (4, false));
    assert_eq!(store.upload_bytes("s-1", "u-1").unwrap(), b"done");
    store.complete_upload("s-1", "u-1").unwrap();
    assert!(store.begin_upload("s-1", "u-1", 4, &sha).unwrap().complete);
    assert_eq!(store.blob(&sha).unwrap().as_deref(), Some(&b"done"[..]));
}

#[test]
fn uploads_resume_from_what_is_stored_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "ab".repeat(32);
    {
        let store = SledStore::open(dir.path()).unwrap();
        let fresh = store.begin_upload("s-1", "u-1", 10, &sha).unwrap();
        assert_eq!((fresh.stored, fresh.complete), (0, false));
        assert_eq!(store.append_upload("s-1", "u-1", 0, b"0123").unwrap(), 4);
        assert_eq!(store.append_upload("s-1", "u-1", 4, b"45").unwrap(), 6);
        store.sync().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let resumed = store.begin_upload("s-1", "u-1", 10, &sha).unwrap();
    assert_eq!(
        resumed.stored, 6,
        "a resume continues after the stored bytes"
    );
    assert_eq!(store.upload_bytes("s-1", "u-1").unwrap(), b"012345");
    // Another session's upload of the same id is another upload.
    assert_eq!(store.begin_upload("s-2", "u-1", 3, &sha).unwrap().stored, 0);
    assert_eq!(store.append_upload("s-1", "u-1", 6, b"6789").unwrap(), 10);
    assert_eq!(store.upload_bytes("s-1", "u-1").unwrap(), b"0123456789");
}

#[test]
fn upload_writes_that_do_not_fit_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let sha = "cd".repeat(32);
    store.begin_upload("s-1", "u-1", 4, &sha).unwrap();
    let conflict = store.begin_upload("s-1", "u-1", 5, &sha).unwrap_err();
    assert!(
        matches!(conflict, StoreError::UploadConflict { .. }),
        "{conflict}"
    );
    let conflict = store.begin_upload("s-1", "u-1", 4, &"ef".repeat(32));
    assert!(matches!(conflict, Err(StoreError::UploadConflict { .. })));
    for (offset, data, problem) in [
        (1, &b"x"[..], "write at 1, but 0 bytes are stored"),
        (0, &b"12345"[..], "exceed the declared size 4"),
    ] {
        let error = store.append_upload("s-1", "u-1", offset, data).unwrap_err();
        assert!(error.to_string().contains(problem), "{error}");
    }
    let error = store.append_upload("s-1", "nope", 0, b"x").unwrap_err();
    assert!(error.to_string().contains("not declared"), "{error}");
    let error = store.begin_upload("s\0x", "u", 1, &sha).unwrap_err();
    assert!(error.to_string().contains("NUL"), "{error}");
    assert!(store.upload_bytes("s-1", "u-1").unwrap().is_empty());
}

#[test]
fn a_completed_upload_is_the_blob_of_its_hash_without_a_copy_discarded_ones_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "01".repeat(32);
    {
        let store = SledStore::open(dir.path()).unwrap();
        store.begin_upload("s-1", "done", 4, &sha).unwrap();
        store.append_upload("s-1", "done", 0, b"ok").unwrap();
        let error = store.complete_upload("s-1", "done").unwrap_err();
        assert!(error.to_string().contains("2 of 4 bytes stored"), "{error}");
        assert!(store.blob(&sha).unwrap().is_none());
        store.append_upload("s-1", "done", 2, b"!!").unwrap();
        store.complete_upload("s-1", "done").unwrap();
        store.complete_upload("s-1", "done").unwrap();
        store.sync().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.blob(&sha).unwrap().as_deref(), Some(&b"ok!!"[..]));
    let record = store.begin_upload("s-1", "done", 4, &sha).unwrap();
    assert_eq!((record.stored, record.complete), (4, true));
    assert!(store.upload_bytes("s-1", "done").unwrap().is_empty());
    let error = store.append_upload("s-1", "done", 4, b"x").unwrap_err();
    assert!(error.to_string().contains("already complete"), "{error}");
    // The blob's bytes stay: discarding a complete upload keeps it, storing the blob
    // again is a no-op, and the same bytes uploaded again complete onto that blob.
    store.discard_upload("s-1", "done").unwrap();
    store.put_blob(&sha, b"ok!!").unwrap();
    store.begin_upload("s-2", "again", 4, &sha).unwrap();
    store.append_upload("s-2", "again", 0, b"ok!!").unwrap();
    store.complete_upload("s-2", "again").unwrap();
    assert!(
        store
            .begin_upload("s-2", "again", 4, &sha)
            .unwrap()
            .complete
    );
    assert_eq!(store.blob(&sha).unwrap().as_deref(), Some(&b"ok!!"[..]));
    let error = store.complete_upload("s-2", "never").unwrap_err();
    assert!(error.to_string().contains("not declared"), "{error}");

    store.begin_upload("s-1", "bad", 3, &sha).unwrap();
    store.append_upload("s-1", "bad", 0, b"abc").unwrap();
    store.discard_upload("s-1", "bad").unwrap();
    store.discard_upload("s-1", "bad").unwrap();
    assert_eq!(store.begin_upload("s-1", "bad", 3, &sha).unwrap().stored, 0);
    assert!(store.upload_bytes("s-1", "bad").unwrap().is_empty());
}
