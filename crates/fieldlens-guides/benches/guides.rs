//! Loading the shipped packs and composing an overlay onto a 12 MP frame, each against a
//! baseline in the same run (`cargo bench -p fieldlens-guides --bench guides`).
//!
//! - `load/validate_all` loads and validates `guides/` (every manifest parsed and checked,
//!   every overlay's header read and its pixels decoded); `load/read_files` only reads the
//!   same files' bytes, the least any loader must do.
//! - `compose/ours` is `compose_overlay` (overlay fitted, resized, alpha-blended into an RGB
//!   copy of the frame); `compose/imageops` does the same with the image crate's own
//!   `resize` + `overlay` on an RGBA copy.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use fieldlens_guides::{GuideLibrary, compose_overlay, fit_overlay};
use image::{DynamicImage, Rgb, RgbImage, imageops};

fn guides() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guides")
}

fn read_tree(dir: &Path, total: &mut usize) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_tree(&path, total);
        } else {
            *total += std::fs::read(&path).unwrap().len();
        }
    }
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    group.bench_function("validate_all", |b| {
        b.iter(|| black_box(GuideLibrary::load_dir(&guides()).unwrap()))
    });
    group.bench_function("read_files", |b| {
        b.iter(|| {
            let mut total = 0;
            read_tree(&guides(), &mut total);
            black_box(total)
        })
    });
    group.finish();
}

fn compose(c: &mut Criterion) {
    let library = GuideLibrary::load_dir(&guides()).unwrap();
    let overlay = library
        .step("car-claim", "front_left")
        .unwrap()
        .overlay()
        .decode()
        .unwrap();
    let frame = DynamicImage::ImageRgb8(RgbImage::from_fn(4000, 3000, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    }));
    let mut group = c.benchmark_group("compose");
    group.sample_size(10);
    group.bench_function("ours", |b| {
        b.iter(|| black_box(compose_overlay(&frame, &overlay, 0.9)))
    });
    group.bench_function("imageops", |b| {
        b.iter(|| {
            let mut out = frame.to_rgba8();
            let place = fit_overlay(out.dimensions(), overlay.dimensions());
            let scaled = imageops::resize(
                &overlay,
                place.width,
                place.height,
                imageops::FilterType::Triangle,
            );
            imageops::overlay(&mut out, &scaled, i64::from(place.x), i64::from(place.y));
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, load, compose);
criterion_main!(benches);
