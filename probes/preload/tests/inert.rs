//! The built library loads into an ordinary program and, without `FORKCAST_PRELOAD_OUT`, changes
//! nothing. (This test, and the `rlib` crate type, also make `cargo test --workspace` build
//! the cdylib into target/<profile>/deps/, where this test finds it.)

use std::path::PathBuf;
use std::process::Command;

/// Cargo leaves the library of this build next to the test binary (target/<profile>/deps/).
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.with_file_name("libforkcast_preload.so");
    assert!(lib.is_file(), "{} was not built", lib.display());
    lib
}

#[test]
fn without_its_variable_the_library_changes_nothing() {
    let script = "printf 'a\\n'; echo b >&2; cat /proc/self/status >/dev/null; exit 3";
    let plain = Command::new("sh").args(["-c", script]).output().unwrap();
    let preloaded = Command::new("sh")
        .args(["-c", script])
        .env("LD_PRELOAD", built_library())
        .env_remove("FORKCAST_PRELOAD_OUT")
        .output()
        .unwrap();
    assert_eq!(preloaded.status.code(), Some(3));
    assert_eq!(plain.stdout, preloaded.stdout);
    assert_eq!(plain.stderr, preloaded.stderr);
}
