//! Builds the preload probe (probes/preload, a workspace member) so that forkcast can carry it
//! inside its own binary (src/run/probes/embedded.rs writes it out at run time). One binary is
//! then the whole install: `cargo install --path .` and the maturin wheel (pyproject.toml) ship
//! nothing beside it.
//!
//! The probe is built by a nested `cargo build --release -p forkcast-preload` into its own target
//! folder under OUT_DIR: the outer build holds the lock on its own target folder for as long as it
//! runs, and a release build is what every install embeds, whatever profile forkcast is built
//! with. The nested cargo is the one running this script (`CARGO`), with the workspace's
//! Cargo.lock and profiles; its only dependency, libc, is one forkcast itself depends on, so an
//! offline build finds it in the local registry cache already.
//!
//! `FORKCAST_EMBED_PRELOAD=/path/to/libforkcast_preload.so` embeds that file instead of building
//! (a packager who built the probe elsewhere, e.g. against an older glibc).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROBE: &str = "forkcast-preload";
const LIB: &str = "libforkcast_preload.so";

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let probe_dir = root.join("probes/preload");
    // The probe's sources; the workspace's manifest holds its release profile, the lock its libc.
    for path in [
        probe_dir.join("src"),
        probe_dir.join("Cargo.toml"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed=FORKCAST_EMBED_PRELOAD");

    let lib = match env::var_os("FORKCAST_EMBED_PRELOAD") {
        Some(given) => {
            let given = PathBuf::from(given);
            println!("cargo:rerun-if-changed={}", given.display());
            given
        }
        None => build_probe(&root),
    };
    let bytes = std::fs::read(&lib)
        .unwrap_or_else(|e| panic!("reading the preload probe {}: {e}", lib.display()));
    println!(
        "cargo:rustc-env=FORKCAST_PRELOAD_EMBED_PATH={}",
        lib.display()
    );
    println!(
        "cargo:rustc-env=FORKCAST_PRELOAD_HASH={:016x}",
        fnv1a64(&bytes)
    );
}

/// `cargo build --release -p forkcast-preload` into OUT_DIR; the built library's path.
fn build_probe(root: &Path) -> PathBuf {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let target_dir = out.join("preload-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--release")
        .args(["-p", PROBE])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // What the outer build's environment would change in the nested one. The probe runs inside
    // every process of a target, so flags meant for forkcast (a sanitizer, cargo-llvm-cov's
    // coverage instrumentation) stay out of it: it gets the workspace's release profile and the
    // plain compiler, as when a developer builds it by hand.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // A cross build embeds a probe for the target; a native one builds without --target, so the
    // library is byte for byte what `cargo build --release -p forkcast-preload` makes.
    let target = env::var("TARGET").expect("cargo sets it");
    let host = env::var("HOST").expect("cargo sets it");
    let mut release = target_dir.join("release");
    if target != host {
        cmd.args(["--target", &target]);
        release = target_dir.join(&target).join("release");
    }
    // Cargo reads this script's stdout for its directives: the nested build talks on stderr.
    cmd.stdout(std::io::stderr());
    let status = cmd.status().unwrap_or_else(|e| {
        panic!(
            "running {} to build the preload probe: {e}",
            Path::new(&cargo).display()
        )
    });
    assert!(
        status.success(),
        "building the preload probe ({PROBE}) failed: see cargo's output above"
    );
    release.join(LIB)
}

/// FNV-1a, 64 bits: names the written file per build of the probe (src/run/probes/embedded.rs
/// compares the bytes themselves before each use, so a collision could cost a rewrite, never a
/// wrong library).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
