//! Draws every guide pack's overlay images from vector shapes.
//!
//! `cargo run -p fieldlens-gen-overlays -- [GUIDES_DIR]` writes
//! `GUIDES_DIR/<pack>/overlays/<step>.png` (default `guides`) and prints each overlay's drawn
//! bounds, from which the packs' target regions are set. The crate's test fails when a
//! committed overlay differs from what the generator draws.

mod appliance;
mod car;
mod common;
mod draw;
mod vehicle;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use draw::Drawing;

/// One overlay file: the pack it belongs to, its file stem and how to draw it.
struct Overlay {
    pack: &'static str,
    stem: &'static str,
    draw: Box<dyn Fn() -> Drawing>,
}

impl Overlay {
    /// Where the overlay lives under a guides folder.
    fn path(&self, guides: &Path) -> PathBuf {
        guides
            .join(self.pack)
            .join("overlays")
            .join(format!("{}.png", self.stem))
    }
}

fn overlay(
    pack: &'static str,
    stem: &'static str,
    draw: impl Fn() -> Drawing + 'static,
) -> Overlay {
    Overlay {
        pack,
        stem,
        draw: Box::new(draw),
    }
}

fn catalog() -> Vec<Overlay> {
    let car_views = [
        ("front", 0.0),
        ("front_left", 45.0),
        ("left", 90.0),
        ("rear_left", 135.0),
        ("rear", 180.0),
        ("rear_right", 225.0),
        ("right", 270.0),
        ("front_right", 315.0),
    ];
    let mut overlays: Vec<Overlay> = car_views
        .into_iter()
        .map(|(stem, yaw)| overlay("car-claim", stem, move || car::view(yaw)))
        .collect();
    overlays.extend([
        overlay("car-claim", "vin_plate", vehicle::vin_plate),
        overlay("car-claim", "dashboard", vehicle::dashboard),
        overlay("car-claim", "airbags", vehicle::airbags),
        overlay("car-claim", "damage_context", vehicle::damage_context),
        overlay("car-claim", "damage_closeup", || common::closeup(false)),
        overlay("car-claim", "fluid_leak", vehicle::fluid_leak),
        overlay("car-claim", "scene", vehicle::scene),
        overlay("washing-machine", "front", appliance::washer_front),
        overlay("washing-machine", "rating_plate", || {
            common::rating_label(true)
        }),
        overlay("washing-machine", "error_display", || {
            appliance::control_panel("E21")
        }),
        overlay("washing-machine", "fault_area", || common::closeup(true)),
        overlay("washing-machine", "door_seal", appliance::door_seal),
        overlay("washing-machine", "drain_filter", appliance::drain_filter),
        overlay("washing-machine", "inlet_hose", appliance::inlet_hose),
        overlay("washing-machine", "drain_hose", appliance::drain_hose),
        overlay("washing-machine", "power", common::power_socket),
        overlay("washing-machine", "feet", appliance::feet),
        overlay("refrigerator", "front", appliance::fridge_front),
        overlay("refrigerator", "rating_plate", || {
            common::rating_label(true)
        }),
        overlay("refrigerator", "display", || appliance::control_panel("E1")),
        overlay(
            "refrigerator",
            "fridge_interior",
            appliance::fridge_interior,
        ),
        overlay(
            "refrigerator",
            "freezer_interior",
            appliance::freezer_interior,
        ),
        overlay("refrigerator", "door_gasket", appliance::door_gasket),
        overlay("refrigerator", "rear", appliance::fridge_rear),
        overlay("refrigerator", "clearance", appliance::fridge_clearance),
        overlay("refrigerator", "power", common::power_socket),
        overlay("refrigerator", "fault_area", || common::closeup(true)),
        overlay("dishwasher", "front", appliance::dishwasher_front),
        overlay("dishwasher", "rating_plate", || common::rating_label(true)),
        overlay("dishwasher", "error_display", || {
            appliance::control_panel("E24")
        }),
        overlay("dishwasher", "interior", appliance::dishwasher_interior),
        overlay("dishwasher", "filter", appliance::dishwasher_filter),
        overlay("dishwasher", "spray_arm", appliance::spray_arm),
        overlay("dishwasher", "under_sink", appliance::under_sink),
        overlay("dishwasher", "power", common::power_socket),
        overlay("dishwasher", "fault_area", || common::closeup(true)),
        overlay("air-conditioner", "indoor_unit", appliance::ac_indoor),
        overlay("air-conditioner", "rating_plate", || {
            common::rating_label(true)
        }),
        overlay("air-conditioner", "error_display", appliance::ac_display),
        overlay("air-conditioner", "remote", appliance::ac_remote),
        overlay("air-conditioner", "air_filter", appliance::ac_filter),
        overlay("air-conditioner", "outdoor_unit", appliance::ac_outdoor),
        overlay("air-conditioner", "pipes", appliance::ac_pipes),
        overlay("air-conditioner", "condensate_drain", appliance::ac_drain),
        overlay("air-conditioner", "power", common::power_socket),
        overlay("air-conditioner", "fault_area", || common::closeup(true)),
    ]);
    overlays
}

fn main() -> Result<()> {
    let mut guides = PathBuf::from("guides");
    for argument in std::env::args().skip(1) {
        match argument.as_str() {
            "-h" | "--help" => {
                println!("usage: gen-overlays [GUIDES_DIR]   (default: guides)");
                return Ok(());
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}; see --help"),
            path => guides = PathBuf::from(path),
        }
    }
    for overlay in catalog() {
        let image = (overlay.draw)().render()?;
        let png = draw::encode_png(&image)?;
        let path = overlay.path(&guides);
        let dir = path.parent().context("overlay path has no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&path, &png).with_context(|| format!("writing {}", path.display()))?;
        let bounds = draw::alpha_bounds(&image)
            .map(|(x, y, w, h)| format!("x = {x:.2}, y = {y:.2}, w = {w:.2}, h = {h:.2}"))
            .unwrap_or_else(|| "empty".into());
        println!("{:<56} {:>7} bytes  {bounds}", path.display(), png.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One pass over the catalog: each overlay leaves the camera view visible and matches the
    /// committed file pixel for pixel.
    #[test]
    fn committed_overlays_match_the_generator_and_stay_see_through() {
        let guides = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guides");
        let mut stale = Vec::new();
        for overlay in catalog() {
            let image = (overlay.draw)().render().unwrap();
            let mean_alpha = image.pixels().map(|pixel| f64::from(pixel[3])).sum::<f64>()
                / f64::from(image.width() * image.height())
                / 255.0;
            assert!(
                mean_alpha < 0.3,
                "{}/{} hides {mean_alpha:.2} of the camera view",
                overlay.pack,
                overlay.stem
            );
            let path = overlay.path(&guides);
            // Pixels, not PNG bytes: the deflate backend (and so the bytes) depends on which
            // features the rest of the workspace turns on.
            let committed = std::fs::read(&path)
                .ok()
                .and_then(|bytes| image::load_from_memory(&bytes).ok())
                .map(|decoded| decoded.to_rgba8());
            if committed.as_ref() != Some(&image) {
                stale.push(path);
            }
        }
        assert!(
            stale.is_empty(),
            "overlays differ from the generator; run `cargo run -p fieldlens-gen-overlays`: {stale:?}"
        );
    }
}
