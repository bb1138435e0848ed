//! Replays every recorded sweep in fixtures/recordings/variants/ (a lab variant or a pool-shape
//! fixture, recorded by `scripts/check-expected.py --record`) through `forkcast report`, the
//! same analysis and diagnosis as a live run, and checks the recommendation its expected file
//! names. Deterministic and fast: the tree's branches on real measurements, no timing involved.

use crate::support::{repo_root, run_forkcast};
use forkcast::diagnose::cited::{numbers, numbers_in, uncited, without_names};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The expected file of recording `name`: a lab variant's, else a shape fixture's.
fn expected_for(name: &str) -> PathBuf {
    let lab = repo_root().join(format!("fixtures/expected/{name}.json"));
    if lab.exists() {
        return lab;
    }
    repo_root().join(format!("fixtures/workloads/expected/{name}.json"))
}

fn replayed(dir: &Path) -> Value {
    let out = run_forkcast(&["report", &dir.display().to_string(), "--format", "json"]);
    out.expect(out.code == Some(0), "the recording replays");
    serde_json::from_str(&out.stdout).expect("report --format json prints JSON")
}

#[test]
fn every_recorded_variant_replays_to_its_expected_recommendation() {
    let root = repo_root().join("fixtures/recordings/variants");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/recordings/variants exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "recordings: {dirs:?}");
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let path = expected_for(&name);
        let e: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let r = replayed(&dir);
        let rec = &r["diagnosis"]["recommendation"];
        for (key, want) in e["expect"].as_object().unwrap() {
            assert_eq!(
                &rec[key], want,
                "{name}: recommendation.{key} (why expected: {})\nsteps: {:#}",
                e["why"], r["diagnosis"]["steps"]
            );
        }
        // Every step answered something, said what it rests on, and every figure it printed is
        // one this report holds.
        let mut known = Vec::new();
        numbers_in(&r["points"], &mut known);
        numbers_in(&r["host"], &mut known);
        for st in r["diagnosis"]["steps"].as_array().unwrap() {
            assert!(
                ["yes", "no", "unknown"].contains(&st["answer"].as_str().unwrap()),
                "{name}: {st}"
            );
            let evidence = st["evidence"].as_str().unwrap();
            assert!(!evidence.is_empty(), "{name}: {st}");
            let mut here = known.clone();
            numbers_in(&st["measured"], &mut here);
            here.extend(
                numbers(st["threshold"].as_str().unwrap())
                    .into_iter()
                    .map(|(x, _)| x),
            );
            let missing = uncited(&without_names(evidence, &st["measured"]), &here);
            assert!(
                missing.is_empty(),
                "{name}: {}: {missing:?} are no figures of the report\n{evidence}",
                st["id"]
            );
        }
    }
}
