//! Prints the screen look and the tilt look (`screen_look`, `tilt_look` metrics) of the generated
//! scenes the demo and the end-to-end tests photograph: why the screen look only confirms the
//! recapture rules, and that the tilt look leaves these upright scenes alone; and where the
//! detector takes a plate for printed matter (`print_share`, `print_luma`), why the print cue
//! asks for a page as bright as paper (BENCHMARKS.md).
//!
//! `cargo run --release -p fieldlens-quality --example scene_looks`
//!
//! For 30 seeds each: plate and panel scenes held landscape and portrait, and car scenes; the
//! subject centred in a 70% target filling 25–60% of the frame.

use fieldlens_quality::{CheckProfile, Reason, check_photo};
use fieldlens_scenes::{Region, scene_oriented};

/// `low–high` of some values, or `none`.
fn span(values: &[f64], digits: usize) -> String {
    if values.is_empty() {
        return "none".into();
    }
    let (low, high) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    format!("{low:.digits$}–{high:.digits$}")
}

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
        let (mut print_shares, mut print_lumas) = (Vec::new(), Vec::new());
        let mut recaptures = Vec::new();
        for seed in 0..30 {
            let photo = scene_oriented(seed, target, (0.25, 0.6), car, portrait);
            let report = check_photo(&photo, &CheckProfile::default(), &[])?;
            for (values, metric) in looks.iter_mut().zip(["screen_look", "tilt_look"]) {
                values.push(report.metrics[metric]);
            }
            if let (Some(&share), Some(&luma)) = (
                report.metrics.get("print_share"),
                report.metrics.get("print_luma"),
            ) {
                print_shares.push(share);
                print_lumas.push(luma);
            }
            recaptures.extend(
                (report.issues.iter())
                    .filter(|issue| issue.reason == Reason::Recapture)
                    .map(|issue| format!("seed {seed} ({})", issue.subtype)),
            );
        }
        let summary = |values: &[f64], bar: f64| {
            let over = values.iter().filter(|&&look| look >= bar).count();
            format!("{}, {over} of 30 at {bar} or more", span(values, 2))
        };
        println!(
            "{name}: screen look {}; tilt look {}; printed matter in {} of 30 (share {}, luma {}); \
             recaptures: {}",
            summary(&looks[0], 0.5),
            summary(&looks[1], 0.9),
            print_shares.len(),
            span(&print_shares, 2),
            span(&print_lumas, 0),
            if recaptures.is_empty() {
                "none".into()
            } else {
                recaptures.join(", ")
            },
        );
    }
    Ok(())
}
