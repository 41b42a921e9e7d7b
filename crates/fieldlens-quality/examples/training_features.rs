//! Writes the features the learned models read, for the training scripts in `train/`.
//!
//! `cargo run --release -p fieldlens-quality --example training_features -- cells|scene PHOTO...`
//!
//! One line per photo on stdout, or `<path>\terror\t<message>`:
//! - `cells` (car-likeness cells, `train_car_cells.py`): `<path>\t<rows>\t<cols>\t<f0> <f1> ...`
//!   with the `rows · cols · 49` features row-major (empty when the photo is too small for a
//!   grid);
//! - `scene` (the detector's scene features, `train_screen_look.py` and `train_tilt_look.py`):
//!   `<path>\t<f0> <f1> ...`.

use std::io::Write;

use fieldlens_quality::CheckProfile;
use fieldlens_quality::carness::photo_cell_features;
use fieldlens_quality::looks::photo_scene_features;

/// The features of one photo as the text after its path.
fn features(kind: &str, bytes: &[u8], profile: &CheckProfile) -> Result<String, String> {
    let numbers = |values: &mut dyn Iterator<Item = &f32>| {
        values
            .map(|v| format!("{v:.6}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match kind {
        "cells" => {
            let grid = photo_cell_features(bytes, profile).map_err(|e| e.to_string())?;
            let values = numbers(&mut grid.cells.iter().flatten());
            Ok(format!("{}\t{}\t{values}", grid.rows, grid.cols))
        }
        "scene" => {
            let scene = photo_scene_features(bytes, profile).map_err(|e| e.to_string())?;
            Ok(numbers(&mut scene.iter()))
        }
        other => Err(format!("unknown kind {other:?}: expected cells or scene")),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let profile = CheckProfile::default();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for path in args {
        let line = match std::fs::read(&path)
            .map_err(|error| error.to_string())
            .and_then(|bytes| features(&kind, &bytes, &profile))
        {
            Ok(text) => format!("{path}\t{text}"),
            Err(error) => format!("{path}\terror\t{error}"),
        };
        writeln!(out, "{line}").expect("writing to stdout");
    }
}
