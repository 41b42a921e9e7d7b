//! Store write cost of a group commit: 64 cases opened (case + two chained events +
//! idempotency key, each atomically) and one sync, against writing the same bytes to one
//! sled tree with plain inserts (no atomicity at all) and one flush. And a 3 MiB photo
//! uploaded in 256 KiB chunks with a sync per MiB, completed into its blob and synced,
//! against writing the same bytes to one file and `fdatasync` (the durable floor).

use criterion::{Criterion, criterion_group, criterion_main};
use fieldlens_core::case::{Case, CaseKind, Contact, Product};
use fieldlens_core::event::{Actor, CaseEvent, EventRecord};
use fieldlens_core::intake::NewCase;
use fieldlens_core::{CaseId, Priority};
use fieldlens_store::{SledStore, Store};
use std::sync::atomic::{AtomicU64, Ordering};

fn request(n: u64) -> NewCase {
    NewCase {
        case_kind: CaseKind::Appliance,
        product: Product {
            category: "washing_machine".into(),
            brand: "Bosch".into(),
            model: "WAN28281GB".into(),
            ..Product::default()
        },
        locale: "en-GB".into(),
        region: "uk-london".into(),
        contact: Contact {
            name: "Sam Lee".into(),
            phone: "+447700900123".into(),
            email: String::new(),
        },
        idempotency_key: format!("bench-key-{n:012}"),
        priority: Priority::Normal,
        description: "E18 on the display, water stays in the drum".into(),
    }
}

/// Case `n` as OpenCase builds it: the case, its `opened` event and its `queued` event.
fn queued_case(n: u64) -> (Case, EventRecord, EventRecord) {
    let (mut case, opened) = request(n)
        .open(CaseId::new(format!("c-{n:020}")), 1_000)
        .unwrap();
    let queued = case
        .append(CaseEvent::Queued { arrival: n }, Actor::System, 1_001)
        .unwrap();
    (case, opened, queued)
}

/// Cases per sync, as with 64 requests in flight.
const GROUP: u64 = 64;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let raw = sled::open(dir.path().join("raw")).unwrap();
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group("open_case_write");
    group.sample_size(20);
    group.bench_function("64 × store.create_case, then sync", |b| {
        b.iter(|| {
            for _ in 0..GROUP {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let (case, opened, queued) = queued_case(n);
                store.create_case(&case, &[opened, queued]).unwrap();
            }
            store.sync().unwrap();
        })
    });
    group.bench_function(
        "baseline: same bytes, one tree, plain inserts, flush",
        |b| {
            b.iter(|| {
                for _ in 0..GROUP {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let (case, opened, queued) = queued_case(n);
                    let id = case.id.to_string();
                    raw.insert(format!("k{n}"), id.as_bytes()).unwrap();
                    raw.insert(format!("c{id}"), serde_json::to_vec(&case).unwrap())
                        .unwrap();
                    raw.insert(format!("e{id}1"), serde_json::to_vec(&opened).unwrap())
                        .unwrap();
                    raw.insert(format!("e{id}2"), serde_json::to_vec(&queued).unwrap())
                        .unwrap();
                }
                raw.flush().unwrap();
            })
        },
    );
    group.bench_function("64 cases and events built, nothing written", |b| {
        b.iter(|| {
            for _ in 0..GROUP {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let (case, opened, queued) = queued_case(n);
                std::hint::black_box((serde_json::to_vec(&case).unwrap(), opened, queued));
            }
        })
    });
    group.finish();

    let photo: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let sha = "0f".repeat(32);
    let mut group = c.benchmark_group("photo_upload_3MiB");
    group.sample_size(20);
    group.bench_function("256 KiB appends, sync per MiB, complete, sync", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            // A fresh hash each time, so the blob is really written.
            let sha = format!("{n:016x}{}", &sha[16..]);
            let id = format!("u-{n}");
            store
                .begin_upload("bench", &id, photo.len() as u64, &sha)
                .unwrap();
            for (i, chunk) in photo.chunks(256 << 10).enumerate() {
                store
                    .append_upload("bench", &id, (i << 18) as u64, chunk)
                    .unwrap();
                if (i + 1) % 4 == 0 {
                    store.sync().unwrap();
                }
            }
            store.complete_upload("bench", &id).unwrap();
            store.sync().unwrap();
        })
    });
    group.bench_function("baseline: one file write + fdatasync", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let path = dir.path().join(format!("floor-{n}"));
            let file = std::fs::File::create(&path).unwrap();
            std::io::Write::write_all(&mut &file, &photo).unwrap();
            file.sync_data().unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
