//! The Python probe's forkcast side: writes the embedded `sitecustomize.py` loader and
//! `_forkcast_probe.py` into the run folder and reads the per-process record files the probe
//! leaves (format in `_forkcast_probe.py`'s docstring).

use super::{c_text, u32_at, u64_at};
use crate::measure::probes::{
    ChunksizeRecord, PoolRecord, ProcessStarts, PythonData, PythonProcess, TaskSources,
    ThreadsAtFork,
};
use anyhow::{Context, Result};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Names the folder the probe writes its per-process records into.
pub const ENV_PYTHON_OUT: &str = "FORKCAST_PYTHON_OUT";

/// The loader Python imports as `sitecustomize`, and the probe it imports when active.
const FILES: [(&str, &str); 2] = [
    (
        "sitecustomize.py",
        include_str!("../../../probes/python/sitecustomize.py"),
    ),
    (
        "_forkcast_probe.py",
        include_str!("../../../probes/python/_forkcast_probe.py"),
    ),
];
const MAGIC: &[u8; 8] = b"FKPYREC1";
const EVENTS_OFF: usize = 512;
const DUR_OFF: usize = 65536;
const DUR_CAP: u64 = 262_144;

/// Installs the probe and creates an empty `dir/python-out/`; returns (the folder to put first on
/// PYTHONPATH, the output folder). Records of an earlier run in the same folder are removed.
///
/// The probe goes into a content-addressed folder of the user's cache
/// (`$XDG_CACHE_HOME` or `~/.cache`, `forkcast/python-probe-<hash>/`), so the bytecode Python
/// writes there on first use serves every later run: compiling the probe in each fresh run folder
/// cost ~30 ms of CPU per run on this VM (+10 % on a 0.35 s workload). Without a usable cache it
/// goes into `dir/python/`.
pub fn install(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let out = dir.join("python-out");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    super::private::dir(&out)?;
    // The probe's code runs inside the target: only from a folder nobody else can write.
    let private_site = |site: &PathBuf| {
        site.parent()
            .is_some_and(|p| super::private::dir(p).is_ok())
            && super::private::dir(site).is_ok()
    };
    if let Some(site) = cache_dir().filter(|site| private_site(site) && write_files(site).is_ok()) {
        return Ok((site, out));
    }
    let site = dir.join("python");
    super::private::dir(&site)?;
    write_files(&site)
        .with_context(|| format!("writing the Python probe into {}", site.display()))?;
    Ok((site, out))
}

/// `<cache>/forkcast/python-probe-<hash of the probe's files>`.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    // FNV-1a: stable across builds and platforms, no dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in FILES
        .iter()
        .flat_map(|(name, text)| name.bytes().chain(text.bytes()))
    {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    Some(
        base.join("forkcast")
            .join(format!("python-probe-{hash:016x}")),
    )
}

/// Writes the probe's files into `site` unless they are already there with this content (so the
/// bytecode next to them stays valid). Each file is written to a temporary name and renamed, so
/// concurrent forkcast runs never see half a file.
fn write_files(site: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(site)?;
    for (name, text) in FILES {
        let file = site.join(name);
        if std::fs::read(&file).is_ok_and(|have| have == text.as_bytes()) {
            continue;
        }
        let tmp = site.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        super::private::new_file(&tmp)?.write_all(text.as_bytes())?;
        std::fs::rename(&tmp, &file)?;
    }
    Ok(())
}

/// Reads every record in `dir`, in the order the interpreters started. Files that are not
/// records (or were cut short) are skipped.
pub fn read_records(dir: &Path) -> Result<PythonData> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("listing the Python probe folder {}", dir.display()))?;
    let mut found: Vec<(u64, PythonProcess)> = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(started) = record_start_ns(&path) else {
            continue;
        };
        let record = read_record(&path).with_context(|| format!("reading {}", path.display()))?;
        if let Some(record) = record {
            found.push((started, record));
        }
    }
    found.sort_by_key(|(started, p)| (*started, p.pid));
    Ok(PythonData {
        processes: found.into_iter().map(|(_, p)| p).collect(),
    })
}

/// `py-<pid>-<ns>.bin` -> ns.
fn record_start_ns(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix("py-")?.strip_suffix(".bin")?;
    stem.split_once('-')?.1.parse().ok()
}

fn read_record(path: &Path) -> Result<Option<PythonProcess>> {
    let f = File::open(path)?;
    let mut h = vec![0u8; DUR_OFF];
    if f.read_exact_at(&mut h, 0).is_err() || &h[..8] != MAGIC || u32_at(&h, 8) != 1 {
        return Ok(None);
    }
    let ns = |at: usize| i64_at(&h, at).max(0) as f64 / 1e9;
    let count = |at: usize| i64_at(&h, at).max(0) as u64;
    let tasks = count(128);
    let stored = tasks.min(DUR_CAP);
    let mut raw = vec![0u8; stored as usize * 8];
    f.read_exact_at(&mut raw, DUR_OFF as u64)?;
    let durations: Vec<f64> = raw
        .chunks_exact(8)
        .map(|c| i64_at(c, 0).max(0) as f64 / 1e9)
        .collect();
    // Tasks past the array only left sums: fold them in.
    let tail = tasks > DUR_CAP;
    let tail_min = tail.then(|| ns(152));
    let tail_max = tail.then(|| ns(160));
    let min = durations.iter().copied().chain(tail_min).reduce(f64::min);
    let max = durations.iter().copied().chain(tail_max).reduce(f64::max);
    let mut p = PythonProcess {
        pid: i64_at(&h, 16) as i32,
        ppid: i64_at(&h, 24) as i32,
        role: c_text(&h[32..64]),
        started_by: c_text(&h[64..80]),
        pickled_bytes: count(80),
        pickle_s: ns(88),
        pickle_calls: count(96),
        unpickled_bytes: count(104),
        unpickle_s: ns(112),
        unpickle_calls: count(120),
        tasks,
        task_s_sum: durations.iter().sum::<f64>() + ns(136),
        task_s_sumsq: durations.iter().map(|d| d * d).sum::<f64>()
            + f64::from_ne_bytes(h[144..152].try_into()?) / 1e18,
        task_s_min: min,
        task_s_max: max,
        task_durations_s: durations,
        task_durations_truncated: tail,
        tasks_by_source: TaskSources {
            pool: count(176),
            process_pool: count(184),
            thread_pool: count(192),
        },
        chunks: count(200),
        process_starts: ProcessStarts {
            fork: count(208),
            spawn: count(216),
            forkserver: count(224),
        },
        forks: count(232),
        max_python_threads_at_fork: (count(232) > 0).then(|| count(240)),
        max_os_threads_at_fork: (count(232) > 0).then(|| count(248)),
        events_dropped: count(264),
        ..PythonProcess::default()
    };
    let events_len = (count(256) as usize).min(DUR_OFF - EVENTS_OFF);
    let events = String::from_utf8_lossy(&h[EVENTS_OFF..EVENTS_OFF + events_len]);
    for line in events.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            apply_event(&mut p, &v);
        }
    }
    p.start_method = start_method(&p);
    Ok(Some(p))
}

fn apply_event(p: &mut PythonProcess, v: &Value) {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let num = |k: &str| v.get(k).and_then(Value::as_u64);
    match v.get("ev").and_then(Value::as_str) {
        Some("fork") => p.threads_at_fork.push(ThreadsAtFork {
            python_threads: num("python_threads").unwrap_or(0),
            os_threads: num("os_threads").unwrap_or(0),
        }),
        Some("pool") => p.pools.push(PoolRecord {
            api: text("api").unwrap_or_default(),
            workers: num("workers"),
            start_method: text("start_method"),
        }),
        Some("chunksize") => p.chunksizes.push(ChunksizeRecord {
            api: text("api").unwrap_or_default(),
            chunksize: num("chunksize").unwrap_or(0),
            default: v.get("default").and_then(Value::as_bool).unwrap_or(false),
            items: num("items"),
            workers: num("workers"),
        }),
        _ => {}
    }
}

/// The most used start method of the processes started, else the last process pool's.
fn start_method(p: &PythonProcess) -> Option<String> {
    let s = &p.process_starts;
    let used = [
        ("fork", s.fork),
        ("spawn", s.spawn),
        ("forkserver", s.forkserver),
    ];
    let top = used.iter().filter(|(_, n)| *n > 0).max_by_key(|(_, n)| *n);
    match top {
        Some((name, _)) => Some((*name).to_owned()),
        None => p
            .pools
            .iter()
            .rev()
            .find_map(|pool| pool.start_method.clone()),
    }
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    u64_at(b, at) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_again_keeps_the_files_and_their_bytecode_valid() {
        let site = std::env::temp_dir().join(format!("forkcast-site-{}", std::process::id()));
        write_files(&site).unwrap();
        let file = site.join("_forkcast_probe.py");
        let first = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_files(&site).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), first);
        std::fs::write(&file, "stale").unwrap();
        write_files(&site).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), FILES[1].1);
        std::fs::remove_dir_all(&site).unwrap();
    }

    /// A record as the probe lays it out: `tasks` tasks, the first ones lasting 1 ms each, and
    /// (past the cap) two more of 2 ms and 4 ms kept only as tail sums.
    fn synthetic_record(path: &Path, tasks: u64) {
        let mut b = vec![0u8; DUR_OFF + (tasks.min(DUR_CAP) * 8) as usize];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&1u32.to_ne_bytes());
        let put =
            |b: &mut Vec<u8>, at: usize, v: i64| b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        put(&mut b, 16, 42);
        b[32..39].copy_from_slice(b"process");
        put(&mut b, 128, tasks as i64);
        put(&mut b, 176, tasks as i64);
        if tasks > DUR_CAP {
            put(&mut b, 136, 6_000_000);
            b[144..152].copy_from_slice(&(4e12f64 + 16e12).to_ne_bytes());
            put(&mut b, 152, 2_000_000);
            put(&mut b, 160, 4_000_000);
        }
        for i in 0..tasks.min(DUR_CAP) as usize {
            put(&mut b, DUR_OFF + 8 * i, 1_000_000);
        }
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn tasks_past_the_duration_array_still_count_in_the_sums() {
        let path = std::env::temp_dir().join(format!("py-{}-1.bin", std::process::id()));
        synthetic_record(&path, DUR_CAP + 2);
        let p = read_record(&path).unwrap().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            (p.pid, p.role.as_str(), p.tasks),
            (42, "process", DUR_CAP + 2)
        );
        assert_eq!(p.task_durations_s.len() as u64, DUR_CAP);
        assert!(p.task_durations_truncated);
        let n = DUR_CAP as f64;
        assert!(
            (p.task_s_sum - (n * 1e-3 + 6e-3)).abs() < 1e-9,
            "{}",
            p.task_s_sum
        );
        assert!((p.task_s_sumsq - (n * 1e-6 + 20e-6)).abs() < 1e-9);
        assert_eq!((p.task_s_min, p.task_s_max), (Some(1e-3), Some(4e-3)));
    }

    #[test]
    fn record_names_carry_the_start_time() {
        assert_eq!(record_start_ns(Path::new("/x/py-12-345.bin")), Some(345));
        assert_eq!(record_start_ns(Path::new("/x/other.bin")), None);
    }

    #[test]
    fn start_method_prefers_what_was_started() {
        let mut p = PythonProcess {
            pools: vec![PoolRecord {
                api: "Pool".into(),
                workers: Some(2),
                start_method: Some("spawn".into()),
            }],
            ..PythonProcess::default()
        };
        assert_eq!(start_method(&p).as_deref(), Some("spawn"));
        p.process_starts.fork = 2;
        assert_eq!(start_method(&p).as_deref(), Some("fork"));
    }
}
