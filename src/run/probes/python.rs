//! The Python probe's forkcast side: writes the embedded `sitecustomize.py` loader and
//! `_forkcast_probe.py` into the run folder and reads the per-process record files the probe
//! leaves. The record's layout is defined once, in the probe's "record layout" block, and parsed
//! from the embedded probe here (`Layout`), so the two sides cannot drift.

use super::{c_text, u32_at, u64_at};
use crate::measure::probes::StartMethod;
use crate::measure::probes::{
    ActorWait, ChunksizeRecord, GilKnocks, PoolRecord, ProcessStart, ProcessStarts, PythonData,
    PythonProcess, RayActor, TaskSources, ThreadsAtFork,
};
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// The probe's "record layout" block: word index (byte offset / 8) per name, without the
/// leading underscore (`_PICKLED = 10` gives `PICKLED` -> 10).
struct Layout(HashMap<&'static str, usize>);

impl Layout {
    /// Parses the block between `# record layout begin` and `# record layout end` of `probe`:
    /// one `_NAME = INDEX  # comment` per line.
    fn parse(probe: &'static str) -> Result<Layout, String> {
        let begin = probe
            .find("# record layout begin")
            .ok_or("no `# record layout begin`")?;
        let end = probe[begin..]
            .find("# record layout end")
            .ok_or("no `# record layout end`")?;
        let mut words = HashMap::new();
        for line in probe[begin..begin + end].lines().skip(1) {
            let code = line.split('#').next().unwrap_or("").trim();
            if code.is_empty() {
                continue;
            }
            let (name, value) = code
                .split_once('=')
                .ok_or_else(|| format!("not `_NAME = INDEX`: {line}"))?;
            let name = name.trim().strip_prefix('_').ok_or("names start with _")?;
            let value: usize = value.trim().parse().map_err(|e| format!("{line}: {e}"))?;
            if words.insert(name, value).is_some() {
                return Err(format!("{name} defined twice"));
            }
        }
        Ok(Layout(words))
    }

    /// The byte offset of word `name`.
    fn at(&self, name: &str) -> usize {
        8 * self.word(name)
    }

    fn word(&self, name: &str) -> usize {
        // The embedded probe is fixed at build time and the tests read every name used here.
        *self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("the Python probe's layout has no _{name}"))
    }
}

fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(|| {
        Layout::parse(FILES[1].1).expect("the embedded Python probe's record layout parses")
    })
}

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
    let base = super::private::cache_folder()?;
    // FNV-1a: stable across builds and platforms, no dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in FILES
        .iter()
        .flat_map(|(name, text)| name.bytes().chain(text.bytes()))
    {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    Some(base.join(format!("python-probe-{hash:016x}")))
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
    let l = layout();
    let (events_off, dur_off) = (l.at("EVENTS"), l.at("DURATIONS"));
    let dur_cap = l.word("DUR_CAP") as u64;
    let f = File::open(path)?;
    let mut h = vec![0u8; dur_off];
    if f.read_exact_at(&mut h, 0).is_err() || &h[..8] != MAGIC || u32_at(&h, l.at("VERSION")) != 1 {
        return Ok(None);
    }
    let word = |name: &str| i64_at(&h, l.at(name));
    let ns = |name: &str| word(name).max(0) as f64 / 1e9;
    let count = |name: &str| word(name).max(0) as u64;
    let text = |name: &str, len: usize| c_text(&h[l.at(name)..l.at(name) + len]);
    let tasks = count("TASKS");
    let stored = tasks.min(dur_cap);
    let mut raw = vec![0u8; stored as usize * 8];
    f.read_exact_at(&mut raw, dur_off as u64)?;
    let durations: Vec<f64> = raw
        .chunks_exact(8)
        .map(|c| i64_at(c, 0).max(0) as f64 / 1e9)
        .collect();
    // Tasks past the array only left sums: fold them in.
    let tail = tasks > dur_cap;
    let tail_min = tail.then(|| ns("TAIL_MIN"));
    let tail_max = tail.then(|| ns("TAIL_MAX"));
    let min = durations.iter().copied().chain(tail_min).reduce(f64::min);
    let max = durations.iter().copied().chain(tail_max).reduce(f64::max);
    let tail_sumsq = f64::from_ne_bytes(h[l.at("TAIL_SUMSQ")..l.at("TAIL_SUMSQ") + 8].try_into()?);
    let (pickled, unpickled) = (l.at("PICKLED"), l.at("UNPICKLED"));
    let knocks = count("KNOCKS");
    let mut p = PythonProcess {
        pid: word("PID") as i32,
        ppid: word("PPID") as i32,
        role: text("ROLE", 32),
        started_by: text("STARTED_BY", 16),
        pickled_bytes: i64_at(&h, pickled).max(0) as u64,
        pickle_s: i64_at(&h, pickled + 8).max(0) as f64 / 1e9,
        pickle_calls: i64_at(&h, pickled + 16).max(0) as u64,
        unpickled_bytes: i64_at(&h, unpickled).max(0) as u64,
        unpickle_s: i64_at(&h, unpickled + 8).max(0) as f64 / 1e9,
        unpickle_calls: i64_at(&h, unpickled + 16).max(0) as u64,
        shared_bytes: count("SHARED"),
        shared_s: i64_at(&h, l.at("SHARED") + 8).max(0) as f64 / 1e9,
        stored_bytes: count("STORED"),
        stored_s: i64_at(&h, l.at("STORED") + 8).max(0) as f64 / 1e9,
        row_holds: count("ROW_HOLDS"),
        row_hold_s: i64_at(&h, l.at("ROW_HOLDS") + 8).max(0) as f64 / 1e9,
        tasks,
        task_s_sum: durations.iter().sum::<f64>() + ns("TAIL_NS"),
        task_s_sumsq: durations.iter().map(|d| d * d).sum::<f64>() + tail_sumsq / 1e18,
        task_s_min: min,
        task_s_max: max,
        task_durations_s: durations,
        task_durations_truncated: tail,
        tasks_by_source: TaskSources {
            pool: count("POOL"),
            process_pool: count("PROCESS_POOL"),
            thread_pool: count("THREAD_POOL"),
            engine: count("ENGINE"),
        },
        chunks: count("CHUNKS"),
        process_starts: ProcessStarts {
            fork: count("STARTS_FORK"),
            spawn: count("STARTS_SPAWN"),
            forkserver: count("STARTS_FORKSERVER"),
        },
        forks: count("FORKS"),
        max_python_threads_at_fork: (count("FORKS") > 0).then(|| count("FORK_PY_MAX")),
        max_os_threads_at_fork: (count("FORKS") > 0).then(|| count("FORK_OS_MAX")),
        events_dropped: count("EVENTS_DROPPED"),
        created_at_ns: (count("CREATED_NS") > 0).then(|| count("CREATED_NS")),
        first_task_at_ns: (count("FIRST_TASK_NS") > 0).then(|| count("FIRST_TASK_NS")),
        gil_knocks: (knocks > 0).then(|| GilKnocks {
            knocks,
            held: count("KNOCKS_HELD"),
            wait_s: ns("KNOCK_WAIT_NS"),
            interval_s: ns("KNOCK_NS"),
            switch_interval_s: ns("SWITCH_NS"),
            cpu_s: ns("KNOCK_CPU_NS"),
        }),
        gil_enabled: match count("GIL") {
            1 | 3 => Some(true),
            2 => Some(false),
            _ => None,
        },
        free_threaded: match count("GIL") {
            1 => Some(false),
            2 | 3 => Some(true),
            _ => None,
        },
        ..PythonProcess::default()
    };
    // The actor-wait slots: (ns, calls) each, to the header's end; events name them.
    let slots = (l.word("HEADER_WORDS") - l.word("ACTOR_WAITS")) / 2;
    let waits: Vec<(f64, u64)> = (0..slots)
        .map(|i| {
            let at = l.at("ACTOR_WAITS") + 16 * i;
            (
                i64_at(&h, at).max(0) as f64 / 1e9,
                i64_at(&h, at + 8).max(0) as u64,
            )
        })
        .collect();
    let started = p.process_starts.fork + p.process_starts.spawn + p.process_starts.forkserver;
    if started > 0 {
        p.max_python_threads_at_start = Some(count("START_PY_MAX"));
        p.max_os_threads_at_start = Some(count("START_OS_MAX"));
    }
    let events_len = (count("EVENTS_LEN") as usize).min(dur_off - events_off);
    let events = String::from_utf8_lossy(&h[events_off..events_off + events_len]);
    for line in events.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            apply_event(&mut p, &v, &waits);
        }
    }
    p.start_method = start_method(&p);
    Ok(Some(p))
}

/// Applies one event line; `actor_waits` are the record's actor-wait slots, (s, calls) each.
fn apply_event(p: &mut PythonProcess, v: &Value, actor_waits: &[(f64, u64)]) {
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
            start_method: text("start_method").and_then(|m| StartMethod::from_name(&m)),
        }),
        // CPython has only these three methods: a start under another name is not counted.
        Some("start") => {
            let Some(method) = text("method").and_then(|m| StartMethod::from_name(&m)) else {
                return;
            };
            p.starts.push(ProcessStart {
                pid: v.get("pid").and_then(Value::as_i64).map(|x| x as i32),
                method,
                at_ns: num("at_ns").unwrap_or(0),
                python_threads: num("python_threads").unwrap_or(0),
                os_threads: num("os_threads").unwrap_or(0),
            })
        }
        Some("actor") => {
            p.actor = text("actor")
                .zip(text("class_name"))
                .map(|(id, class_name)| RayActor { id, class_name })
        }
        Some("actor_wait") => {
            let slot = num("slot").and_then(|s| actor_waits.get(s as usize));
            if let (Some(actor), Some(&(wait_s, calls))) = (text("actor"), slot) {
                p.actor_waits.push(ActorWait {
                    actor,
                    wait_s,
                    calls,
                });
            }
        }
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
fn start_method(p: &PythonProcess) -> Option<StartMethod> {
    let s = &p.process_starts;
    let used = [
        (StartMethod::Fork, s.fork),
        (StartMethod::Spawn, s.spawn),
        (StartMethod::Forkserver, s.forkserver),
    ];
    let top = used.iter().filter(|(_, n)| *n > 0).max_by_key(|(_, n)| *n);
    match top {
        Some((method, _)) => Some(*method),
        None => p.pools.iter().rev().find_map(|pool| pool.start_method),
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
        let l = layout();
        let (dur_off, cap) = (l.at("DURATIONS"), l.word("DUR_CAP") as u64);
        let mut b = vec![0u8; dur_off + (tasks.min(cap) * 8) as usize];
        b[..8].copy_from_slice(MAGIC);
        let v = l.at("VERSION");
        b[v..v + 4].copy_from_slice(&1u32.to_ne_bytes());
        let put = |b: &mut Vec<u8>, name: &str, v: i64| {
            let at = l.at(name);
            b[at..at + 8].copy_from_slice(&v.to_ne_bytes())
        };
        put(&mut b, "PID", 42);
        let role = l.at("ROLE");
        b[role..role + 7].copy_from_slice(b"process");
        put(&mut b, "TASKS", tasks as i64);
        put(&mut b, "POOL", tasks as i64);
        put(&mut b, "KNOCKS", 40);
        put(&mut b, "KNOCKS_HELD", 10);
        put(&mut b, "GIL", 2);
        if tasks > cap {
            put(&mut b, "TAIL_NS", 6_000_000);
            let sq = l.at("TAIL_SUMSQ");
            b[sq..sq + 8].copy_from_slice(&(4e12f64 + 16e12).to_ne_bytes());
            put(&mut b, "TAIL_MIN", 2_000_000);
            put(&mut b, "TAIL_MAX", 4_000_000);
        }
        for i in 0..tasks.min(cap) as usize {
            let at = dur_off + 8 * i;
            b[at..at + 8].copy_from_slice(&1_000_000i64.to_ne_bytes());
        }
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn tasks_past_the_duration_array_still_count_in_the_sums() {
        let cap = layout().word("DUR_CAP") as u64;
        let path = std::env::temp_dir().join(format!("py-{}-1.bin", std::process::id()));
        synthetic_record(&path, cap + 2);
        let p = read_record(&path).unwrap().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((p.pid, p.role.as_str(), p.tasks), (42, "process", cap + 2));
        assert_eq!(p.task_durations_s.len() as u64, cap);
        assert!(p.task_durations_truncated);
        let n = cap as f64;
        assert!(
            (p.task_s_sum - (n * 1e-3 + 6e-3)).abs() < 1e-9,
            "{}",
            p.task_s_sum
        );
        assert!((p.task_s_sumsq - (n * 1e-6 + 20e-6)).abs() < 1e-9);
        assert_eq!((p.task_s_min, p.task_s_max), (Some(1e-3), Some(4e-3)));
        let knocks = p.gil_knocks.unwrap();
        assert_eq!((knocks.knocks, knocks.held), (40, 10));
        assert_eq!(
            (p.gil_enabled, p.free_threaded),
            (Some(false), Some(true)),
            "GIL word 2 is a free-threaded build with the GIL off"
        );
    }

    #[test]
    fn actor_waits_are_read_from_the_slots_their_events_name() {
        let l = layout();
        let path = std::env::temp_dir().join(format!("py-{}-2.bin", std::process::id()));
        synthetic_record(&path, 0);
        let mut b = std::fs::read(&path).unwrap();
        let put =
            |b: &mut Vec<u8>, at: usize, v: i64| b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        // Slot 1: 0.25 s over 20 gets of actor "ab12"; slot 0 holds a wait no event named.
        let slot1 = l.at("ACTOR_WAITS") + 16;
        put(&mut b, slot1, 250_000_000);
        put(&mut b, slot1 + 8, 20);
        put(&mut b, l.at("ACTOR_WAITS"), 5);
        let events = b"{\"ev\":\"actor_wait\",\"slot\":1,\"actor\":\"ab12\"}\n\
                       {\"ev\":\"actor\",\"actor\":\"cd34\",\"class_name\":\"Writer\"}\n";
        let at = l.at("EVENTS");
        b[at..at + events.len()].copy_from_slice(events);
        put(&mut b, l.at("EVENTS_LEN"), events.len() as i64);
        std::fs::write(&path, b).unwrap();
        let p = read_record(&path).unwrap().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            p.actor_waits,
            vec![ActorWait {
                actor: "ab12".into(),
                wait_s: 0.25,
                calls: 20
            }]
        );
        assert_eq!(
            p.actor,
            Some(RayActor {
                id: "cd34".into(),
                class_name: "Writer".into()
            })
        );
    }

    #[test]
    fn the_layout_block_is_whole_and_every_word_of_it_is_read_here() {
        let l = layout();
        let header = l.word("HEADER_WORDS");
        let sizes = ["HEADER_WORDS", "EVENTS", "DURATIONS", "DUR_CAP"];
        let mut fields: Vec<(usize, &str)> =
            l.0.iter()
                .filter(|(name, _)| !sizes.contains(name))
                .map(|(name, &w)| (w, *name))
                .collect();
        fields.sort();
        assert!(fields.len() > 30, "{fields:?}");
        for pair in fields.windows(2) {
            assert!(pair[0].0 < pair[1].0, "two names on one word: {pair:?}");
        }
        assert!(fields.iter().all(|(w, _)| *w < header), "{fields:?}");
        assert_eq!(8 * header, 512, "the docstring's 512-byte header");
        assert!(l.word("EVENTS") >= header && l.word("DURATIONS") > l.word("EVENTS"));
        // Every word the probe writes has a reader here (MAGIC is checked as bytes).
        let this_file = include_str!("python.rs");
        for (_, name) in fields.iter().filter(|(_, n)| *n != "MAGIC") {
            assert!(
                this_file.contains(&format!("\"{name}\"")),
                "python.rs never reads _{name}"
            );
        }
        assert!(Layout::parse("no block").is_err());
        assert!(Layout::parse("# record layout begin\n_A = x\n# record layout end").is_err());
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
                start_method: Some(StartMethod::Spawn),
            }],
            ..PythonProcess::default()
        };
        assert_eq!(start_method(&p), Some(StartMethod::Spawn));
        p.process_starts.fork = 2;
        assert_eq!(start_method(&p), Some(StartMethod::Fork));
    }
}
