//! Fuzzes the saved-report reader: any bytes give a Measurements or a UsageError, never a panic;
//! and whatever parses goes through analysis and diagnosis too, as `forkcast report` does.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(saved) = forkcast::saved::from_bytes(std::path::Path::new("fuzz.json"), data) {
        let m = saved.measurements;
        let a = forkcast::analyze::analyze(&m);
        let _ = forkcast::diagnose::diagnose(&m, &a);
    }
});
