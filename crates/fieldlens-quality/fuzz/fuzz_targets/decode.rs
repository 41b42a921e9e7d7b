//! Fuzzes the guarded decode path and every check behind it: arbitrary bytes must give a report
//! or a `QualityError`, never a panic or a crash.
#![no_main]

use fieldlens_quality::{CheckProfile, check_photo, decode::read_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the limits themselves are part of what is tested.
    let profile = CheckProfile {
        max_pixels: 4_000_000,
        max_bytes: 1 << 20,
        ..CheckProfile::default()
    };
    let header = read_header(data, &profile);
    let report = check_photo(data, &profile, &[]);
    // A header the guard refuses must never decode.
    if header.is_err() {
        assert!(report.is_err());
    }
});
