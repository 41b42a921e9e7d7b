//! The fieldlens hub: gRPC services, configuration, metrics and wiring of the other crates.
