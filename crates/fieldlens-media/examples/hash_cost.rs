//! What verifying an upload costs the hub per photo: SHA-256 over it in 256 KiB chunks, as
//! the hub's writer hashes them, against copying the same bytes once.
//!
//! `cargo run --release -p fieldlens-media --example hash_cost [-- MEGABYTES]` (default 3.4)

use sha2::{Digest, Sha256};
use std::time::Instant;

fn median_ms(mut work: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..50)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let megabytes: f64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("MEGABYTES is a number"))
        .unwrap_or(3.4);
    let bytes: Vec<u8> = (0..(megabytes * 1e6) as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let hash = median_ms(|| {
        let mut hasher = Sha256::new();
        for chunk in bytes.chunks(256 * 1024) {
            hasher.update(chunk);
        }
        std::hint::black_box(hasher.finalize());
    });
    let copy = median_ms(|| {
        std::hint::black_box(bytes.to_vec());
    });
    println!("{megabytes} MB: SHA-256 {hash:.2} ms, one copy {copy:.2} ms (medians of 50)");
}
