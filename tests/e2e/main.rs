//! End-to-end tests: one binary, one module per area, each driving the real `fieldlens` server.
