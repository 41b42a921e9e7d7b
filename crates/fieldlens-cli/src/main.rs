//! The `fieldlens` command line: serve the hub and act as each of its users.

fn main() {}
