//! The fieldlens hub: gRPC services, configuration, metrics and wiring of the other crates.
//!
//! The hub holds no domain rules of its own: cases, routing and tokens come
//! from `fieldlens-core`, persistence from `fieldlens-store`. This crate maps
//! the wire to the domain and back ([`convert`]), maps domain errors to gRPC
//! statuses in one place ([`error`]), and runs the server ([`server`]).

pub mod app;
pub mod auth;
pub mod bulk;
pub mod capture;
pub mod config;
pub mod convert;
pub mod error;
pub mod grpc;
pub mod journal;
pub mod media;
pub mod metrics;
pub mod server;
pub mod triage;

pub use config::{Catalog, Config, ConfigError, LogFormat, Overrides, load_catalog};
pub use server::{Bound, run};
