//! Helpers shared by the end-to-end tests: build and spawn the real `fieldlens` binary on free ports.
