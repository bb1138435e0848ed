//! One binary is the whole install: forkcast writes the preload library it carries into the
//! user's cache, byte for byte the probe crate's own release build, and loads it from there.
//! (scripts/check-install.sh runs the same from a wheel and from `cargo install`.)

use crate::support::{forkcast, Outcome, TempDir};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `forkcast doctor` with `XDG_CACHE_HOME` set to `cache`.
fn doctor(cache: &Path) -> Outcome {
    let out = forkcast()
        .arg("doctor")
        .env("XDG_CACHE_HOME", cache)
        .env_remove("FORKCAST_PRELOAD_LIB")
        .output()
        .expect("forkcast runs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        described: format!("XDG_CACHE_HOME={} forkcast doctor", cache.display()),
    }
}

/// The libraries forkcast wrote into `cache`/forkcast.
fn written_libraries(cache: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(cache.join("forkcast")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("libforkcast_preload-")
        })
        .collect()
}

/// `cargo build --release -p forkcast-preload`, as a developer builds the probe, into a target
/// folder of its own (a `cargo test` run holds the lock on the workspace's).
fn probe_crates_release_build() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("preload-check");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "forkcast-preload",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(root)
        // As build.rs does: forkcast's own flags never reach the probe.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p forkcast-preload failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = target.join("release/libforkcast_preload.so");
    std::fs::read(&lib).unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
}

#[test]
fn the_library_forkcast_writes_is_the_probe_crates_release_build() {
    let cache = TempDir::new("install-cache");
    let out = doctor(cache.path());
    out.expect(out.code == Some(0), "doctor runs");
    out.expect(
        out.stdout.contains("yes  preload_probe"),
        "the embedded library is available",
    );
    let written = written_libraries(cache.path());
    out.expect(
        written.len() == 1,
        &format!("one library written: {written:?}"),
    );
    let folder = std::fs::metadata(cache.join("forkcast")).unwrap();
    assert_eq!(folder.mode() & 0o777, 0o700, "the cache folder is private");
    assert_eq!(
        std::fs::metadata(&written[0]).unwrap().mode() & 0o777,
        0o600
    );
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(concat!(
            "libforkcast_preload-",
            env!("CARGO_PKG_VERSION"),
            "-"
        )),
        "named by version: {name}"
    );
    let embedded = std::fs::read(&written[0]).unwrap();
    assert!(
        embedded == probe_crates_release_build(),
        "the library in forkcast's binary ({} bytes) is not what `cargo build --release -p \
         forkcast-preload` builds from the probe's sources now: build.rs embedded a stale or \
         different build",
        embedded.len()
    );
}

#[test]
fn a_changed_library_in_the_cache_is_rewritten_before_use() {
    let cache = TempDir::new("install-tamper");
    doctor(cache.path());
    let written = written_libraries(cache.path());
    assert_eq!(written.len(), 1, "{written:?}");
    let good = std::fs::read(&written[0]).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0xff;
    std::fs::write(&written[0], &bad).unwrap();
    let out = doctor(cache.path());
    out.expect(out.stdout.contains("yes  preload_probe"), "still available");
    out.expect(
        std::fs::read(&written[0]).unwrap() == good,
        "the changed byte was written over",
    );
}

#[test]
fn without_a_usable_cache_a_run_writes_the_library_into_its_probe_folder() {
    let dir = TempDir::new("install-nocache");
    // A file where the cache folder should be: it cannot be used.
    let blocked = dir.join("cache");
    std::fs::write(&blocked, "").unwrap();
    let out_dir = dir.join("out");
    let out = forkcast()
        .args(["run", "-w", "1", "--runs", "1", "--warmup", "0"])
        .args(["--probes", "preload", "-o"])
        .arg(&out_dir)
        .args(["--", "sh", "-c", "echo {workers} >/dev/null"])
        .env("XDG_CACHE_HOME", &blocked)
        .env_remove("FORKCAST_PRELOAD_LIB")
        .output()
        .expect("forkcast runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probes = out_dir.join("runs/01-w1-r0/probes");
    let libs: Vec<_> = std::fs::read_dir(&probes)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libforkcast_preload-"))
        .collect();
    assert_eq!(libs.len(), 1, "in {}: {libs:?}", probes.display());
    let report = crate::support::read_report(&out_dir);
    assert_eq!(
        report["points"][0]["runs"][0]["probes_injected"],
        serde_json::json!(["preload"])
    );
}
