//! Guide packs: their model, loading and validation, overlay compositing and framing targets.
