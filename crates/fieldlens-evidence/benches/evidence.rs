//! Evidence benchmark on a car claim with 14 full-resolution phone photos (the bench photos in
//! `../shared/data/bench-photos`, 9.4 MP each; skipped with a message when absent):
//!
//! - rendering the HTML report against decoding the same photos with the image crate, the
//!   floor of any report that shows them;
//! - writing the bundle, and verifying it, each against one SHA-256 pass over the bundle.

use std::hint::black_box;
use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use fieldlens_evidence::{export, manifest::sha256_hex, render_report, verify};

#[path = "../tests/fixture/mod.rs"]
mod fixture;

fn bench_photos() -> Option<Vec<Vec<u8>>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bench-photos");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "jpeg" || ext == "jpg")
        })
        .collect();
    files.sort();
    let photos: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    (!photos.is_empty()).then_some(photos)
}

fn main() {
    let Some(photos) = bench_photos() else {
        eprintln!(
            "SKIPPED: ../shared/data/bench-photos not found; the evidence bench needs real photos"
        );
        return;
    };
    // 14 photos cycling through the bench files; a trailing seed after the JPEG's end makes
    // each distinct (content-addressed) without changing the image.
    let claim = fixture::car_claim_with(|seed| {
        let mut bytes = photos[seed as usize % photos.len()].clone();
        bytes.extend_from_slice(&seed.to_le_bytes());
        bytes
    });
    let evidence = claim.evidence();
    let html = render_report(&evidence, 0);
    let bundle = export(&evidence, &html, 0).unwrap();
    assert!(verify(&bundle).unwrap().is_intact());
    eprintln!(
        "{} photos, {:.1} MB of photos, report {:.1} MB, bundle {:.1} MB",
        claim.photos.len(),
        claim.photos.iter().map(|p| p.bytes.len()).sum::<usize>() as f64 / 1e6,
        html.len() as f64 / 1e6,
        bundle.len() as f64 / 1e6
    );

    let mut criterion = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let mut group = criterion.benchmark_group("evidence/report");
    group.bench_function("render_report (14 photos)", |b| {
        b.iter(|| render_report(black_box(&evidence), 0))
    });
    group.bench_function("baseline: decode the 14 photos", |b| {
        b.iter(|| {
            for photo in &claim.photos {
                let reader = image::ImageReader::new(Cursor::new(&photo.bytes))
                    .with_guessed_format()
                    .unwrap();
                black_box(reader.decode().unwrap());
            }
        })
    });
    group.finish();

    let mut group = criterion.benchmark_group("evidence/bundle");
    group.bench_function("export", |b| {
        b.iter(|| export(black_box(&evidence), &html, 0).unwrap())
    });
    group.bench_function("verify", |b| b.iter(|| verify(black_box(&bundle)).unwrap()));
    group.bench_function("baseline: SHA-256 of the bundle", |b| {
        b.iter(|| sha256_hex(black_box(&bundle)))
    });
    group.finish();
    criterion.final_summary();
}
