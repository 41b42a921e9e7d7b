//! Durable storage for fieldlens on sled, behind a small trait that leaks no sled types.
