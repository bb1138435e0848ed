//! The injected probes in real targets: the LD_PRELOAD library and the Python sitecustomize probe
//! load through `run::probes::prepare`, count what the target did, and change nothing it does.
//!
//! Needs the preload library built by this same cargo invocation (`cargo test --workspace` or
//! `cargo nextest run --workspace` build it next to the test binary) and a real CPython
//! (`support::python()`, else what `python3` on PATH resolves to).

use crate::support;
use forkcast::measure::probes::{
    ExitPath, FdKind, IoDir, PreloadProcess, ProbeData, PythonData, PythonProcess,
};
use forkcast::run::probes::{self, ProbeKind};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BOTH: &[ProbeKind] = &[ProbeKind::Preload, ProbeKind::Python];

/// A real interpreter: the suite's lab interpreter when one is set up, else the one that
/// `python3` on PATH really runs (not a pyenv shell shim).
fn python() -> PathBuf {
    let venv = support::repo_root().join(".venv/bin/python");
    if std::env::var_os("FORKCAST_TEST_PYTHON").is_some() || venv.exists() {
        return support::python();
    }
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("no python3 on PATH: set FORKCAST_TEST_PYTHON");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("forkcast-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child killed on drop, so a failing test never leaves a process tree behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one run of a script produced.
struct Ran {
    pid: i32,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The last stdout line, parsed as the JSON summary the scripts print.
    fn summary(&self) -> Value {
        serde_json::from_str(self.stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
            panic!(
                "no JSON summary ({e}); stdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `python script args` in `dir` with exactly `env` on top of the test's environment (minus
/// any LD_PRELOAD/PYTHONPATH/FORKCAST_* it had); stdout and stderr go to files.
fn run_script(dir: &Path, script: &Path, args: &[&str], env: &[(OsString, OsString)]) -> Ran {
    let tag = unique();
    let (out_path, err_path) = (
        dir.join(format!("out-{tag}")),
        dir.join(format!("err-{tag}")),
    );
    let mut cmd = Command::new(python());
    cmd.arg(script).args(args).current_dir(dir);
    for var in [
        "LD_PRELOAD",
        "PYTHONPATH",
        probes::ENV_PRELOAD_OUT,
        probes::ENV_PYTHON_OUT,
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = Running(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}")),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "{cmd:?} ran over 120 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let ran = Ran {
        pid: child.0.id() as i32,
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    };
    assert_eq!(
        ran.code,
        Some(0),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        ran.stdout,
        ran.stderr
    );
    ran
}

/// A number no other call in this test process returns.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs the script with `kinds` injected (on top of `base_env`) and collects what they wrote.
fn run_probed(
    scratch: &Scratch,
    kinds: &[ProbeKind],
    script: &Path,
    args: &[&str],
    base_env: &[(OsString, OsString)],
) -> (Ran, ProbeData) {
    let run_dir = scratch.0.join(format!("run-{}", unique()));
    let prepared = probes::prepare(kinds, &run_dir, base_env).unwrap();
    let mut env = base_env.to_vec();
    env.extend(prepared.env().iter().cloned());
    let ran = run_script(&scratch.0, script, args, &env);
    let data = prepared.collect().unwrap();
    (ran, data)
}

fn preload_of(data: &ProbeData, pid: i32) -> &PreloadProcess {
    let pre = data.preload.as_ref().expect("preload data");
    pre.processes
        .iter()
        .find(|p| p.pid == pid && !p.forked)
        .unwrap_or_else(|| panic!("no preload slot for pid {pid}: {pre:#?}"))
}

fn preload_children(data: &ProbeData, pid: i32) -> Vec<&PreloadProcess> {
    let pre = data.preload.as_ref().expect("preload data");
    pre.processes.iter().filter(|p| p.ppid == pid).collect()
}

/// Bytes of `kind` in direction `dir` over the given processes.
fn io_bytes<'a>(
    procs: impl IntoIterator<Item = &'a PreloadProcess>,
    kind: FdKind,
    dir: IoDir,
) -> u64 {
    procs
        .into_iter()
        .flat_map(|p| &p.rows)
        .filter(|r| r.kind == kind && r.dir == dir)
        .map(|r| r.bytes)
        .sum()
}

fn python_data(data: &ProbeData) -> &PythonData {
    data.python.as_ref().expect("python data")
}

fn python_of(data: &ProbeData, pid: i32) -> &PythonProcess {
    let py = python_data(data);
    py.processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("no python record for pid {pid}: {py:#?}"))
}

fn with_role<'a>(data: &'a ProbeData, role: &str) -> Vec<&'a PythonProcess> {
    python_data(data)
        .processes
        .iter()
        .filter(|p| p.role == role)
        .collect()
}

#[track_caller]
fn assert_close(what: &str, got: u64, want: u64, tolerance: f64) {
    let err = (got as f64 - want as f64).abs() / want as f64;
    assert!(
        err <= tolerance,
        "{what}: got {got}, want {want} (off by {:.2} %)",
        err * 100.0
    );
}

const POOL_PAYLOADS: &str = r#"
import json, multiprocessing as mp, pickle, sys

def size(b):
    return len(b)

def ready(barrier):
    barrier.wait()  # both workers are up before the first task, so both reach the worker loop

if __name__ == "__main__":
    method, api = sys.argv[1], sys.argv[2]
    mp.set_start_method(method)
    payloads = [bytes([i]) * 200_000 for i in range(24)]
    pickled = sum(len(pickle.dumps(p)) for p in payloads)
    with mp.Pool(2, initializer=ready, initargs=(mp.Barrier(2),)) as pool:
        if api == "map":
            sizes = pool.map(size, payloads)
        else:
            sizes = list(pool.imap(size, payloads, chunksize=2))
    assert sizes == [200_000] * 24
    print(json.dumps({"pickled": pickled, "items": len(payloads)}))
"#;

/// Checks shared by the fork and spawn Pool runs.
fn check_pool_run(ran: &Ran, data: &ProbeData, method: &str) {
    let summary = ran.summary();
    let pickled = summary["pickled"].as_u64().unwrap();
    let parent = preload_of(data, ran.pid);
    let workers = preload_children(data, ran.pid);
    assert_close(
        "parent pipe out",
        io_bytes([parent], FdKind::Pipe, IoDir::Out),
        pickled,
        0.02,
    );
    assert_close(
        "workers' pipe in",
        io_bytes(workers, FdKind::Pipe, IoDir::In),
        pickled,
        0.02,
    );

    let py_parent = python_of(data, ran.pid);
    assert_close("parent pickled", py_parent.pickled_bytes, pickled, 0.02);
    let py_workers = with_role(data, "pool_worker");
    assert_eq!(py_workers.len(), 2, "{:#?}", python_data(data));
    let unpickled: u64 = py_workers.iter().map(|w| w.unpickled_bytes).sum();
    assert_close("workers unpickled", unpickled, pickled, 0.02);
    assert!(py_parent.pickle_s > 0.0 && py_workers.iter().any(|w| w.unpickle_s > 0.0));
    assert!(
        py_parent.unpickled_bytes > 0,
        "the parent's side of results"
    );
    assert!(
        py_workers.iter().any(|w| w.pickled_bytes > 0),
        "the workers' side of results"
    );

    let tasks: u64 = py_workers.iter().map(|w| w.tasks).sum();
    assert_eq!(tasks, 24);
    assert_eq!(
        py_workers
            .iter()
            .map(|w| w.tasks_by_source.pool)
            .sum::<u64>(),
        24
    );
    let durations: Vec<f64> = py_workers
        .iter()
        .flat_map(|w| w.task_durations_s.clone())
        .collect();
    assert_eq!(durations.len(), 24);
    assert!(
        durations.iter().all(|&d| d > 0.0 && d < 5.0),
        "{durations:?}"
    );

    assert_eq!(py_parent.start_method.as_deref(), Some(method));
    assert_eq!(py_parent.pools.len(), 1);
    assert_eq!(py_parent.pools[0].api, "Pool");
    assert_eq!(py_parent.pools[0].workers, Some(2));
    assert_eq!(py_parent.pools[0].start_method.as_deref(), Some(method));
    assert!(py_workers
        .iter()
        .all(|w| w.started_by == method && w.ppid == ran.pid));
}

#[test]
fn a_fork_pool_moves_the_bytes_the_script_pickled() {
    let scratch = Scratch::new("probe-fork-pool");
    let script = scratch.write("pool.py", POOL_PAYLOADS);
    let (ran, data) = run_probed(&scratch, BOTH, &script, &["fork", "map"], &[]);
    check_pool_run(&ran, &data, "fork");
    let parent = python_of(&data, ran.pid);
    // Pool.map's default: ceil(24 / (2 workers * 4)) = 3.
    let cs = &parent.chunksizes;
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(
        (cs[0].api.as_str(), cs[0].chunksize, cs[0].default),
        ("map", 3, true)
    );
    assert_eq!((cs[0].items, cs[0].workers), (Some(24), Some(2)));
    let workers = with_role(&data, "pool_worker");
    assert_eq!(workers.len(), 2);
    assert_eq!(workers.iter().map(|w| w.chunks).sum::<u64>(), 8);
    assert_eq!(parent.process_starts.fork, 2);
    assert!(parent.forks >= 2);
    assert_eq!(parent.threads_at_fork[0].python_threads, 1, "{parent:#?}");
    assert_eq!(parent.max_os_threads_at_fork, Some(1));
    for w in preload_children(&data, ran.pid) {
        assert!(w.forked && w.comm.starts_with("python"), "{w:#?}");
    }
}

#[test]
fn a_spawn_pool_records_its_start_method_and_chunksize() {
    let scratch = Scratch::new("probe-spawn-pool");
    let script = scratch.write("pool.py", POOL_PAYLOADS);
    let (ran, data) = run_probed(&scratch, BOTH, &script, &["spawn", "imap"], &[]);
    check_pool_run(&ran, &data, "spawn");
    let parent = python_of(&data, ran.pid);
    assert_eq!(parent.process_starts.spawn, 2);
    let cs = &parent.chunksizes;
    assert_eq!(
        (cs[0].api.as_str(), cs[0].chunksize, cs[0].default),
        ("imap", 2, false)
    );
}

#[test]
fn executors_count_their_tasks_on_both_sides() {
    let scratch = Scratch::new("probe-executors");
    let script = scratch.write(
        "executors.py",
        r#"
import concurrent.futures as cf, json, time

def square(x):
    return x * x

def nap(x):
    time.sleep(0.002)
    return x

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(2) as ex:
        a = list(ex.map(square, range(10), chunksize=4))
    with cf.ThreadPoolExecutor(3) as ex:
        b = list(ex.map(nap, range(7)))
    print(json.dumps({"a": sum(a), "b": sum(b)}))
"#,
    );
    let (ran, data) = run_probed(&scratch, &[ProbeKind::Python], &script, &[], &[]);
    assert_eq!(ran.summary()["a"], 285);
    let workers = with_role(&data, "process_pool_worker");
    assert_eq!(workers.len(), 2, "{:#?}", python_data(&data));
    assert_eq!(
        workers
            .iter()
            .map(|w| w.tasks_by_source.process_pool)
            .sum::<u64>(),
        10
    );
    assert_eq!(
        workers.iter().map(|w| w.chunks).sum::<u64>(),
        3,
        "ceil(10 / 4) chunks"
    );
    assert!(workers
        .iter()
        .all(|w| w.unpickled_bytes > 0 && w.pickled_bytes > 0));

    let parent = python_of(&data, ran.pid);
    assert!(parent.pickled_bytes > 0 && parent.unpickled_bytes > 0);
    assert_eq!(parent.tasks_by_source.thread_pool, 7);
    assert_eq!(parent.task_durations_s.len(), 7);
    assert!(
        parent.task_durations_s.iter().all(|&d| d >= 0.002),
        "{parent:#?}"
    );
    assert!(parent.task_s_min.unwrap() >= 0.002 && parent.task_s_sum >= 0.014);
    let cs = &parent.chunksizes;
    assert_eq!(
        (cs[0].api.as_str(), cs[0].chunksize, cs[0].default),
        ("executor_map", 4, false)
    );
    assert_eq!(parent.pools[0].api, "ProcessPoolExecutor");
    assert_eq!(parent.pools[0].workers, Some(2));
    assert!(parent.pools[0].start_method.is_some());
}

const BEHAVIOUR: &str = r#"
import errno, multiprocessing as mp, os

def inc(x):
    return x + 1

if __name__ == "__main__":
    try:
        os.read(999, 1)
    except OSError as e:
        print("read bad fd:", errno.errorcode[e.errno])
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        os.read(r, 1)
    except BlockingIOError as e:
        print("empty non-blocking read:", errno.errorcode[e.errno])
    print("wrote", os.write(w, b"abc"), "read", os.read(r, 10))
    os.close(r)
    try:
        os.write(w, b"x")
    except BrokenPipeError as e:
        print("write to a closed pipe:", errno.errorcode[e.errno])
    with mp.Pool(2) as pool:
        print(pool.map(inc, range(5)))
"#;

#[test]
fn the_probes_change_no_result_no_errno_and_are_inert_without_their_variables() {
    let scratch = Scratch::new("probe-behaviour");
    let script = scratch.write("behaviour.py", BEHAVIOUR);
    let plain = run_script(&scratch.0, &script, &[], &[]);
    assert!(
        plain.stdout.contains("read bad fd: EBADF"),
        "{}",
        plain.stdout
    );
    assert!(plain.stdout.contains("EAGAIN") && plain.stdout.contains("EPIPE"));

    let (probed, data) = run_probed(&scratch, BOTH, &script, &[], &[]);
    assert_eq!(
        (&probed.stdout, &probed.stderr),
        (&plain.stdout, &plain.stderr)
    );
    assert!(!data.preload.unwrap().processes.is_empty());
    assert!(!data.python.unwrap().processes.is_empty());

    // The library and the sitecustomize loaded, but without FORKCAST_* they record nothing.
    let run_dir = scratch.0.join("inert");
    let prepared = probes::prepare(BOTH, &run_dir, &[]).unwrap();
    let env: Vec<_> = prepared
        .env()
        .iter()
        .filter(|(k, _)| k != probes::ENV_PRELOAD_OUT && k != probes::ENV_PYTHON_OUT)
        .cloned()
        .collect();
    assert!(
        env.iter().any(|(k, _)| k == "LD_PRELOAD") && env.iter().any(|(k, _)| k == "PYTHONPATH")
    );
    let inert = run_script(&scratch.0, &script, &[], &env);
    assert_eq!(
        (&inert.stdout, &inert.stderr),
        (&plain.stdout, &plain.stderr)
    );
    let data = prepared.collect().unwrap();
    assert_eq!(data.preload.unwrap().processes.len(), 0);
    assert_eq!(data.python.unwrap().processes.len(), 0);
}

/// A tiny LD_PRELOAD of the target's own: marks its loading, wraps write() and reports how many
/// writes reached stdout.
const OWN_PRELOAD_C: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static long stdout_writes;
static void mark(const char *s) {
    const char *p = getenv("MARK_FILE");
    if (!p) return;
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) { write(fd, s, strlen(s)); close(fd); }
}
__attribute__((constructor)) static void loaded(void) { mark("own preload loaded\n"); }
ssize_t write(int fd, const void *b, size_t n) {
    static ssize_t (*next)(int, const void *, size_t);
    if (!next) next = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fd == 1) __atomic_add_fetch(&stdout_writes, 1, __ATOMIC_RELAXED);
    return next(fd, b, n);
}
__attribute__((destructor)) static void unloaded(void) {
    char line[64];
    snprintf(line, sizeof line, "stdout writes %ld\n", stdout_writes);
    mark(line);
}
"#;

const OWN_SITECUSTOMIZE: &str = r#"
import os
with open(os.environ["MARK_FILE"], "a") as f:
    f.write("own sitecustomize ran as %s\n" % __name__)
"#;

const CHAINED: &str = r#"
import subprocess, sys, sitecustomize
print("sitecustomize is", sitecustomize.__file__)
sys.stdout.flush()
subprocess.run(["/bin/echo", "child says hi"], check=True)
print("done")
sys.stdout.flush()
"#;

#[test]
fn a_targets_own_preload_and_sitecustomize_still_run() {
    let scratch = Scratch::new("probe-chain");
    let c = scratch.write("own.c", OWN_PRELOAD_C);
    let own_so = scratch.0.join("libown.so");
    let gcc = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&own_so)
        .arg(&c)
        .arg("-ldl")
        .output();
    let Ok(gcc) = gcc else {
        eprintln!("skipped: no gcc to build the target's own LD_PRELOAD library");
        return;
    };
    assert!(
        gcc.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    scratch.write("own-site/sitecustomize.py", OWN_SITECUSTOMIZE);
    let script = scratch.write("chained.py", CHAINED);
    let env_with = |mark: &str| -> Vec<(OsString, OsString)> {
        vec![
            ("LD_PRELOAD".into(), own_so.clone().into()),
            ("PYTHONPATH".into(), scratch.0.join("own-site").into()),
            ("MARK_FILE".into(), scratch.0.join(mark).into()),
        ]
    };
    let plain = run_script(&scratch.0, &script, &[], &env_with("plain.marks"));
    let (probed, data) = run_probed(&scratch, BOTH, &script, &[], &env_with("probed.marks"));

    assert_eq!(
        (&probed.stdout, &probed.stderr),
        (&plain.stdout, &plain.stderr)
    );
    assert!(
        plain.stdout.contains("own-site/sitecustomize.py"),
        "{}",
        plain.stdout
    );
    let marks = |name: &str| std::fs::read_to_string(scratch.0.join(name)).unwrap();
    assert_eq!(marks("probed.marks"), marks("plain.marks"));
    // python, then /bin/echo, each load the library; python runs the sitecustomize; both report.
    let plain_marks = marks("plain.marks");
    let lines: Vec<&str> = plain_marks.lines().collect();
    assert_eq!(lines.len(), 5, "{plain_marks}");
    assert_eq!(
        lines[..3],
        [
            "own preload loaded",
            "own sitecustomize ran as sitecustomize",
            "own preload loaded"
        ]
    );
    assert!(
        lines[3..].iter().all(|l| l.starts_with("stdout writes ")),
        "{plain_marks}"
    );
    // Our probes ran too, behind theirs: the two stdout writes reached our write().
    let parent = preload_of(&data, probed.pid);
    let stdout_writes: u64 = parent
        .rows
        .iter()
        .filter(|r| {
            r.kind == FdKind::File
                && r.dir == IoDir::Out
                && r.peer.as_deref() == Some(&*scratch.0.to_string_lossy())
        })
        .map(|r| r.calls)
        .sum();
    assert!(stdout_writes >= 2, "{parent:#?}");
    assert_eq!(python_data(&data).processes.len(), 1);
}

#[test]
fn tcp_to_a_local_server_is_counted_with_its_peer() {
    let scratch = Scratch::new("probe-tcp");
    let script = scratch.write(
        "tcp.py",
        r#"
import json, socket, subprocess, sys

SERVER = '''
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
got = 0
while got < 100_000:
    got += len(conn.recv(65536))
conn.sendall(b"x" * 1000)
conn.close()
'''

server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE)
port = int(server.stdout.readline())
client = socket.create_connection(("127.0.0.1", port))
client.sendall(b"y" * 100_000)
got = 0
while got < 1000:
    got += len(client.recv(4096))
server.wait()
print(json.dumps({"port": port, "server": server.pid}))
"#,
    );
    let (ran, data) = run_probed(&scratch, &[ProbeKind::Preload], &script, &[], &[]);
    let summary = ran.summary();
    let peer = format!("127.0.0.1:{}", summary["port"]);
    let row = |p: &PreloadProcess, dir: IoDir, accepted: bool| -> u64 {
        p.rows
            .iter()
            .filter(|r| r.kind == FdKind::Tcp && r.dir == dir && r.accepted == accepted)
            .filter(|r| r.peer.as_deref() == Some(peer.as_str()))
            .map(|r| r.bytes)
            .sum()
    };
    let client = preload_of(&data, ran.pid);
    assert_eq!(row(client, IoDir::Out, false), 100_000, "{client:#?}");
    assert_eq!(row(client, IoDir::In, false), 1000);
    let server = preload_of(&data, summary["server"].as_i64().unwrap() as i32);
    assert_eq!(server.ppid, ran.pid);
    assert_eq!(row(server, IoDir::In, true), 100_000, "{server:#?}");
    assert_eq!(row(server, IoDir::Out, true), 1000);
    assert!(client.rows.iter().all(|r| !r.accepted));
    assert_eq!(server.exit, Some(ExitPath::Exit));
}

#[test]
fn a_child_forked_from_a_thread_counts_on_its_own() {
    let scratch = Scratch::new("probe-thread-fork");
    let script = scratch.write(
        "thread_fork.py",
        r#"
import json, os, threading

r, w = os.pipe()
children = []

def forker():
    pid = os.fork()
    if pid == 0:
        os.write(w, b"z" * 5000)
        os._exit(0)
    os.waitpid(pid, 0)
    children.append(pid)

t = threading.Thread(target=forker)
t.start()
t.join()
data = b""
while len(data) < 5000:
    data += os.read(r, 65536)
print(json.dumps({"child": children[0]}))
"#,
    );
    let (ran, data) = run_probed(&scratch, BOTH, &script, &[], &[]);
    let child_pid = ran.summary()["child"].as_i64().unwrap() as i32;
    let pre = data.preload.as_ref().unwrap();
    let child = pre
        .processes
        .iter()
        .find(|p| p.pid == child_pid)
        .expect("child slot");
    assert!(child.forked && child.ppid == ran.pid, "{child:#?}");
    assert_eq!(child.exit, Some(ExitPath::UnderscoreExit));
    assert_eq!(io_bytes([child], FdKind::Pipe, IoDir::Out), 5000);
    assert!(
        child.rows.iter().all(|r| r.kind == FdKind::Pipe),
        "nothing of the parent's: {child:#?}"
    );
    assert_eq!(
        io_bytes([preload_of(&data, ran.pid)], FdKind::Pipe, IoDir::In),
        5000
    );

    let parent = python_of(&data, ran.pid);
    assert_eq!(parent.forks, 1);
    assert_eq!(parent.threads_at_fork[0].python_threads, 2, "{parent:#?}");
    assert!(parent.threads_at_fork[0].os_threads >= 2);
    assert_eq!(python_of(&data, child_pid).started_by, "fork");
}

#[test]
fn the_interpreter_is_seen_as_dynamic_python() {
    let py = python();
    assert!(probes::target_is_dynamic(&py.canonicalize().unwrap()));
    assert!(probes::looks_like_python(&py));
    assert!(probes::looks_like_python(Path::new("python3")));
    let sh = forkcast::run::spawn::resolve_program("sh").unwrap();
    assert!(!probes::looks_like_python(&sh));
}
