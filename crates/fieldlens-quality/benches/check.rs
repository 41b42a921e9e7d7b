//! Speed of the whole photo check on full-resolution phone JPEGs, beside the time to merely
//! decode the same file at full size (the baseline), OpenCV limited to one thread.
//!
//! Photos come from `../shared/data/bench-photos` (relative to the repository) when present,
//! else one 12 MP JPEG is generated. After criterion's own report, a summary prints the p50 of
//! both per photo and their ratio, measured in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fieldlens_quality::{CheckProfile, check_photo};
use opencv::core::{self, Mat, Point, Scalar, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

/// Runs per photo for the p50 summary.
const SUMMARY_RUNS: usize = 21;

fn bench_photos() -> Vec<(String, Vec<u8>)> {
    let folder =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bench-photos");
    let mut photos: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension().is_some_and(|extension| {
                extension.eq_ignore_ascii_case("jpeg") || extension.eq_ignore_ascii_case("jpg")
            })
        })
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            Some((name, std::fs::read(&path).ok()?))
        })
        .collect();
    photos.sort();
    if photos.is_empty() {
        eprintln!(
            "{} not found: using a generated 12 MP photo",
            folder.display()
        );
        photos.push(("generated-12mp.jpg".into(), generated_photo()));
    }
    photos
}

/// A 4000×3000 scene with texture, edges and a subject, encoded like a phone would (q90).
fn generated_photo() -> Vec<u8> {
    let (width, height) = (4000, 3000);
    let mut image =
        Mat::new_rows_cols_with_default(height, width, core::CV_8UC3, Scalar::all(0.0)).unwrap();
    // Smooth gradient background with fine deterministic texture.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for y in 0..height {
        let row = image.at_row_mut::<core::Vec3b>(y).unwrap();
        for (x, pixel) in row.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let grain = (state % 9) as i32 - 4;
            let base = 60 + (x as i32 * 120 / width) + (y * 60 / height);
            *pixel = core::Vec3b::from([
                (base + grain).clamp(0, 255) as u8,
                (base + 20 + grain).clamp(0, 255) as u8,
                (base + 40 + grain).clamp(0, 255) as u8,
            ]);
        }
    }
    imgproc::rectangle(
        &mut image,
        core::Rect::new(1100, 900, 1800, 1200),
        Scalar::new(40.0, 60.0, 180.0, 0.0),
        -1,
        imgproc::LINE_8,
        0,
    )
    .unwrap();
    for i in 0..40 {
        imgproc::line(
            &mut image,
            Point::new(100 + i * 95, 200),
            Point::new(100 + i * 95, 2800),
            Scalar::all(f64::from(30 + i * 5)),
            3,
            imgproc::LINE_AA,
            0,
        )
        .unwrap();
    }
    let mut bytes = Vector::<u8>::new();
    imgcodecs::imencode(
        ".jpg",
        &image,
        &mut bytes,
        &Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 90]),
    )
    .unwrap();
    bytes.to_vec()
}

fn decode_full(bytes: &[u8]) -> Mat {
    imgcodecs::imdecode(&Mat::from_slice(bytes).unwrap(), imgcodecs::IMREAD_COLOR).unwrap()
}

fn p50(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn checks(c: &mut Criterion) {
    core::set_num_threads(1).unwrap();
    let profile = CheckProfile::default();
    let photos = bench_photos();
    let mut group = c.benchmark_group("photo");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for (name, bytes) in &photos {
        group.bench_function(format!("check/{name}"), |b| {
            b.iter(|| check_photo(bytes, &profile, &[]).unwrap())
        });
        group.bench_function(format!("decode_full/{name}"), |b| {
            b.iter(|| decode_full(bytes))
        });
    }
    group.finish();

    println!("\nSummary, p50 of {SUMMARY_RUNS} runs, OpenCV on 1 thread:");
    println!(
        "{:<28} {:>9} {:>10} {:>12} {:>8}",
        "photo", "MP", "check ms", "decode ms", "ratio"
    );
    let (mut all_checks, mut all_decodes) = (Vec::new(), Vec::new());
    for (name, bytes) in &photos {
        let size = decode_full(bytes).size().unwrap();
        let time = |run: &dyn Fn()| {
            (0..SUMMARY_RUNS)
                .map(|_| {
                    let start = Instant::now();
                    run();
                    start.elapsed()
                })
                .collect::<Vec<_>>()
        };
        let check_runs = time(&|| {
            check_photo(bytes, &profile, &[]).unwrap();
        });
        let decode_runs = time(&|| {
            decode_full(bytes);
        });
        all_checks.extend(&check_runs);
        all_decodes.extend(&decode_runs);
        let (check, decode) = (p50(check_runs), p50(decode_runs));
        println!(
            "{name:<28} {:>9.2} {:>10.1} {:>12.1} {:>8.2}",
            f64::from(size.width) * f64::from(size.height) / 1e6,
            check.as_secs_f64() * 1e3,
            decode.as_secs_f64() * 1e3,
            check.as_secs_f64() / decode.as_secs_f64()
        );
    }
    let (check, decode) = (p50(all_checks), p50(all_decodes));
    println!(
        "{:<28} {:>9} {:>10.1} {:>12.1} {:>8.2}",
        "all photos",
        "",
        check.as_secs_f64() * 1e3,
        decode.as_secs_f64() * 1e3,
        check.as_secs_f64() / decode.as_secs_f64()
    );
}

criterion_group!(benches, checks);
criterion_main!(benches);
