//! Case evidence: the tamper-evident export bundle of a case (a zip with a manifest of every
//! item's SHA-256), its offline verifier, and the self-contained HTML case report.
//!
//! The hub gathers a [`CaseEvidence`] (the case, its hash-chained event log, its photos with
//! their quality reports, the guide pack), renders the report with [`render_report`] and
//! writes the bundle with [`export`]. [`verify`] checks a bundle with nothing but its bytes
//! and names every changed, missing, added or reordered item and any break in the event
//! chain. The format is described in [`export`]'s module and in [`manifest`].
//!
//! It knows nothing about networks or storage: bytes and values in, bytes and reports out.

mod export;
pub mod limits;
pub mod manifest;
mod photo;
mod report;
mod verify;

pub use export::{ExportError, export};
pub use manifest::{ItemKind, Manifest, ManifestItem};
pub use photo::{CaseEvidence, Photo, PhotoMeta, PhotoRecord, media_type};
pub use report::{render_report, utc};
pub use verify::{ItemRef, Problem, VerifyError, VerifyReport, verify};
