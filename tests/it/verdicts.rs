//! Every lab variant in fixtures/expected/, swept through forkcast at its workers (short size,
//! forkcast's default `--runs auto` after 1 warmup, as a user would run it: 3 rounds, and more
//! while a step's interval straddles its bar): the recommendation holds
//! every field the variant expects. The fast tier, in CI. The slow tier runs the labs' full
//! sizes instead: `FORKCAST_SLOW_VERDICTS=1 scripts/test verdicts` (about four times as long).
//! The engine labs (07-10: joblib, Dask, Ray) start their engines in every run, seconds each:
//! their verdicts are the slow tier's only (ignored by default; `FORKCAST_SLOW_VERDICTS=1
//! scripts/test --run-ignored all verdicts`), and tests/it/engines.rs checks their shapes in CI.

use crate::support::postgres::PrivatePostgres;
use crate::support::{engines_python, python, repo_root, sweep};
use serde_json::Value;
use std::path::PathBuf;

/// The expected files of lab `number` (01..10).
fn variants(number: &str) -> Vec<(String, Value)> {
    let dir = repo_root().join("fixtures/expected");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().unwrap().to_string_lossy().starts_with(number)
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures/expected/{number}_*.json");
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Sweeps every variant of lab `number` and checks its expected recommendation.
fn check_lab(number: &str, dsn: Option<&str>) {
    let slow = std::env::var_os("FORKCAST_SLOW_VERDICTS").is_some();
    for (name, e) in variants(number) {
        let lab = repo_root()
            .join("fixtures/labs")
            .join(e["lab"].as_str().unwrap());
        let py = if e["python"] == "engines" {
            engines_python()
        } else {
            python()
        };
        let mut target = vec![py.display().to_string(), lab.display().to_string()];
        target.extend(
            strings(&e["args"])
                .into_iter()
                .map(|a| a.replace("{dsn}", dsn.unwrap_or(""))),
        );
        if !slow {
            target.extend(strings(&e["short_args"]));
        }
        let workers: Vec<String> = e["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.to_string())
            .collect();
        let workers = workers.join(",");
        let (_dir, r) = sweep(
            &format!("verdict-{name}"),
            &["-w", &workers, "--warmup", "1"],
            &target,
        );
        let rec = &r["diagnosis"]["recommendation"];
        for (key, want) in e["expect"].as_object().unwrap() {
            assert_eq!(
                &rec[key], want,
                "{name}: recommendation.{key} (why expected: {})\nsteps: {:#}",
                e["why"], r["diagnosis"]["steps"]
            );
        }
    }
}

#[test]
fn lab_01_verdicts_hold() {
    check_lab("01", None);
}

#[test]
fn lab_02_verdicts_hold() {
    check_lab("02", None);
}

#[test]
fn lab_03_verdicts_hold() {
    check_lab("03", None);
}

#[test]
fn lab_04_verdicts_hold() {
    check_lab("04", None);
}

#[test]
fn lab_05_verdicts_hold() {
    check_lab("05", None);
}

#[test]
fn lab_06_verdicts_hold() {
    let pg = PrivatePostgres::start();
    check_lab("06", Some(&pg.dsn()));
}

#[test]
#[ignore = "slow tier: engines start in every run (FORKCAST_SLOW_VERDICTS=1 scripts/test --run-ignored all verdicts)"]
fn lab_07_joblib_verdicts_hold() {
    check_lab("07", None);
}

#[test]
#[ignore = "slow tier: engines start in every run (FORKCAST_SLOW_VERDICTS=1 scripts/test --run-ignored all verdicts)"]
fn lab_08_joblib_memmap_verdicts_hold() {
    check_lab("08", None);
}

#[test]
#[ignore = "slow tier: engines start in every run (FORKCAST_SLOW_VERDICTS=1 scripts/test --run-ignored all verdicts)"]
fn lab_09_dask_verdicts_hold() {
    check_lab("09", None);
}

#[test]
#[ignore = "slow tier: engines start in every run (FORKCAST_SLOW_VERDICTS=1 scripts/test --run-ignored all verdicts)"]
fn lab_10_ray_verdicts_hold() {
    check_lab("10", None);
}
