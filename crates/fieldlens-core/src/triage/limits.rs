//! Limits on decision tables and on triage inputs; anything beyond them is refused, not truncated.

/// Largest decision table file, in bytes.
pub const TABLE_BYTES: usize = 256 * 1024;
/// Most rules in one table.
pub const RULES: usize = 200;
/// Most conditions in one rule.
pub const CONDITIONS: usize = 16;
/// Most values in one list: a condition's values, a rule's skills, parts or reason codes.
pub const VALUES: usize = 64;
/// Most entries in one vocabulary list (damage areas, symptoms, remote fixes).
pub const VOCABULARY: usize = 256;
/// Longest identifier: rule ids, reason codes, skills, parts, vocabulary entries, field names.
pub const ID_CHARS: usize = 96;
/// Longest rule description, in characters.
pub const DESCRIPTION_CHARS: usize = 400;
/// Most problems reported for one table; the rest are summarised.
pub const ERRORS: usize = 50;

/// Most damage findings in one case.
pub const DAMAGE: usize = 64;
/// Most error codes in one case.
pub const ERROR_CODES: usize = 16;
/// Longest error code, in bytes.
pub const ERROR_CODE_BYTES: usize = 16;
/// Most symptoms in one case.
pub const SYMPTOMS: usize = 32;
/// Longest free-text notes, in characters.
pub const NOTES_CHARS: usize = 4000;
/// Most photos counted for one step (accepted or attempted).
pub const STEP_PHOTOS: u32 = 1000;
