//! Prints the screen look (`screen_look` metric) of the generated scenes the demo and the
//! end-to-end tests photograph: why the look only confirms the recapture rules (BENCHMARKS.md).
//!
//! `cargo run --release -p fieldlens-quality --example scene_looks`
//!
//! For 30 seeds each: plate and panel scenes held landscape and portrait, and car scenes; the
//! subject centred in a 70% target filling 25–60% of the frame.

use fieldlens_quality::{CheckProfile, check_photo};
use fieldlens_scenes::{Region, scene_oriented};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Region {
        x: 0.15,
        y: 0.15,
        w: 0.7,
        h: 0.7,
    };
    for (name, car, portrait) in [
        ("plates, landscape", false, false),
        ("plates, portrait", false, true),
        ("cars, landscape", true, false),
    ] {
        let mut looks = Vec::new();
        for seed in 0..30 {
            let photo = scene_oriented(seed, target, (0.25, 0.6), car, portrait);
            let report = check_photo(&photo, &CheckProfile::default(), &[])?;
            looks.push(report.metrics["screen_look"]);
        }
        let over = looks.iter().filter(|&&look| look > 0.5).count();
        let (low, high) = looks
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        println!("{name}: look {low:.2}–{high:.2}, {over} of 30 over 0.5");
    }
    Ok(())
}
