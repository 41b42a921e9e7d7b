//! Writes the car-likeness cell features of photos, for `train/train_car_cells.py`.
//!
//! `cargo run --release -p fieldlens-quality --example car_cells_features -- PHOTO...`
//!
//! One line per photo on stdout: `<path>\t<rows>\t<cols>\t<f0> <f1> ...` with the
//! `rows · cols · 49` features row-major (empty when the photo is too small for a grid), or
//! `<path>\terror\t<message>`.

use std::io::Write;

use fieldlens_quality::CheckProfile;
use fieldlens_quality::carness::photo_cell_features;

fn main() {
    let profile = CheckProfile::default();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for path in std::env::args().skip(1) {
        let result = std::fs::read(&path)
            .map_err(|error| error.to_string())
            .and_then(|bytes| photo_cell_features(&bytes, &profile).map_err(|e| e.to_string()));
        let line = match result {
            Ok(grid) => {
                let values: Vec<String> = grid
                    .cells
                    .iter()
                    .flat_map(|cell| cell.iter().map(|v| format!("{v:.6}")))
                    .collect();
                format!("{path}\t{}\t{}\t{}", grid.rows, grid.cols, values.join(" "))
            }
            Err(error) => format!("{path}\terror\t{error}"),
        };
        writeln!(out, "{line}").expect("writing to stdout");
    }
}
