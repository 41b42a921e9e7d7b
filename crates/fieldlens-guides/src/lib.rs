//! Guide packs: their model, loading and validation, overlay compositing and framing targets.
//!
//! A pack is a folder in `guides/` with a `pack.toml` manifest and overlay PNGs (drawn by
//! `scripts/gen-overlays`). [`GuideLibrary::load_dir`] loads every pack and checks it against
//! the limits in [`limits`]; every error names the file, the step and the field. The crate
//! also composes an overlay onto a camera frame ([`compose_overlay`]), draws contact sheets
//! ([`render_contact_sheet`]) and keeps the IO-free progress of a capture
//! ([`CaptureProgress`]).
//!
//! It knows nothing about networks or storage: it reads pack folders and nothing else.

pub mod capture;
pub mod compose;
mod error;
pub mod library;
pub mod limits;
mod manifest;
pub mod pack;
pub mod sheet;

pub use capture::{CaptureError, CaptureEvent, CaptureProgress, CaptureSummary, StepState};
pub use compose::{Placement, compose_overlay, draw_region, fit_overlay, target_in_frame};
pub use error::{GuideError, GuideErrors, Location};
pub use library::{GuideLibrary, PackCheck};
pub use manifest::{AppliesTo, Lang, Presence, Text};
pub use pack::{CASE_KINDS, GuidePack, GuideStep, Overlay};
pub use sheet::{SheetOptions, render_contact_sheet};

/// Re-exported so callers can name the profile types a step carries.
pub use fieldlens_quality::{CheckProfile, TargetRegion};
