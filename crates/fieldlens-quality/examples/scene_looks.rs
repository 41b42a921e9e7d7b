//! Prints the screen look and the tilt look (`screen_look`, `tilt_look` metrics) of the generated
//! scenes the demo and the end-to-end tests photograph: why the screen look only confirms the
//! recapture rules, and that the tilt look leaves these upright scenes alone (BENCHMARKS.md).
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
        let mut looks: [Vec<f64>; 2] = Default::default();
        for seed in 0..30 {
            let photo = scene_oriented(seed, target, (0.25, 0.6), car, portrait);
            let report = check_photo(&photo, &CheckProfile::default(), &[])?;
            for (values, metric) in looks.iter_mut().zip(["screen_look", "tilt_look"]) {
                values.push(report.metrics[metric]);
            }
        }
        let summary = |values: &[f64], bar: f64| {
            let over = values.iter().filter(|&&look| look >= bar).count();
            let (low, high) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            format!("{low:.2}–{high:.2}, {over} of 30 at {bar} or more")
        };
        println!(
            "{name}: screen look {}; tilt look {}",
            summary(&looks[0], 0.5),
            summary(&looks[1], 0.9)
        );
    }
    Ok(())
}
