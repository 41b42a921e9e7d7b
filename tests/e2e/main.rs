//! End-to-end tests: one binary, one module per area, each driving the real `fieldlens` server.

mod api;
mod capture;
mod demo;
mod full_case;
mod load_and_crash;
mod media;
mod server;
mod tidy;
