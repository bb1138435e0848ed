//! The procfs sampler against real process trees: spinning and sleeping children, short-lived
//! and orphaned ones, a threaded python, an exec, and a tree that exits while sampled.
//!
//! Bounds are loose on purpose: the host has 2 cores shared with other builds.

use forkcast::measure::{ProcessRecord, SamplerData};
use forkcast::run::sampler::{self, SamplerConfig};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A target in its own process group, killed (the whole group) and reaped on drop.
struct Target {
    child: Child,
    pid: i32,
}

impl Target {
    fn sh(script: &str) -> Target {
        let child = Command::new("/bin/sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .expect("spawn /bin/sh");
        let pid = child.id() as i32;
        Target { child, pid }
    }

    fn wait(&mut self) {
        let _ = self.child.wait();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's process group; no memory is involved.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

fn config(hz: Option<f64>) -> SamplerConfig {
    SamplerConfig {
        requested_hz: hz,
        pss_every: Duration::from_millis(200),
    }
}

/// Samples `target` for `secs` seconds.
fn sample_for(target: &Target, hz: Option<f64>, secs: f64) -> SamplerData {
    let h = sampler::start(target.pid, Instant::now(), config(hz)).expect("start sampler");
    std::thread::sleep(Duration::from_secs_f64(secs));
    h.finish()
}

fn by_comm<'a>(d: &'a SamplerData, comm: &str) -> Vec<&'a ProcessRecord> {
    d.processes.iter().filter(|p| p.comm == comm).collect()
}

/// Mean of the ticks' on-CPU cores after the first `skip_s` seconds.
fn mean_busy_cores(d: &SamplerData, skip_s: f64) -> f64 {
    let t: Vec<f64> = d
        .timeline
        .iter()
        .filter(|t| t.t_s >= skip_s)
        .map(|t| t.on_cpu_cores)
        .collect();
    t.iter().sum::<f64>() / t.len().max(1) as f64
}

/// CPU seconds (utime+stime) of a live process, read independently of the sampler.
fn cpu_s_of(pid: i32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Pids whose parent is `pid`, by scanning /proc (this kernel may lack the children files).
fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1));
        if ppid.and_then(|p| p.parse::<i32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// A real interpreter: the suite's (FORKCAST_TEST_PYTHON or the repo's .venv) when there is
/// one, else pyenv's 3.11.7 binary, else python3 on PATH.
fn python() -> PathBuf {
    let venv = crate::support::repo_root().join(".venv/bin/python");
    if std::env::var_os("FORKCAST_TEST_PYTHON").is_some() || venv.exists() {
        return crate::support::python();
    }
    let pyenv = PathBuf::from("/root/.pyenv/versions/3.11.7/bin/python3");
    if pyenv.exists() {
        pyenv
    } else {
        "python3".into()
    }
}

#[test]
fn two_spinning_children_use_about_two_cores_and_are_all_found() {
    let target = Target::sh("yes > /dev/null & yes > /dev/null & wait");
    std::thread::sleep(Duration::from_millis(200));
    let h = sampler::start(target.pid, Instant::now(), config(None)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let yes_pids = children_of(target.pid);
    let (c0, t0) = (
        yes_pids.iter().map(|&p| cpu_s_of(p)).sum::<f64>(),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_millis(1700));
    let truth =
        (yes_pids.iter().map(|&p| cpu_s_of(p)).sum::<f64>() - c0) / t0.elapsed().as_secs_f64();
    let d = h.finish();
    assert_eq!(d.errors, 0);
    let yes = by_comm(&d, "yes");
    assert_eq!(yes.len(), 2, "both children found: {:?}", d.processes);
    assert!(yes
        .iter()
        .all(|p| p.ppid == target.pid && p.threads.len() == 1));
    assert!(by_comm(&d, "sh").iter().any(|p| p.pid == target.pid));
    let busy = mean_busy_cores(&d, 0.3);
    eprintln!("busy cores {busy:.2}, independent /proc stat {truth:.2}");
    if !yes_pids.is_empty() {
        assert!(
            (busy - truth).abs() < 0.3,
            "sampler {busy:.2} vs stat {truth:.2}"
        );
    }
    if truth >= 1.6 || yes_pids.is_empty() {
        assert!(
            busy > 1.3,
            "two spinning children should keep ~2 cores busy: {busy:.2}"
        );
    }
    for p in yes {
        // Each child spins: above idle even when other work on the host takes most CPU (the
        // accuracy check is the agreement with /proc above).
        let b = &p.threads[0].busy;
        let mean = b.iter().sum::<f32>() / b.len() as f32;
        assert!(mean > 0.02, "each child spins: {mean:.2}");
        assert!(p.threads[0].states.contains('R'), "{}", p.threads[0].states);
    }
}

#[test]
fn sleeping_children_are_near_zero() {
    let target = Target::sh("sleep 5 & sleep 5 & wait");
    std::thread::sleep(Duration::from_millis(100));
    let d = sample_for(&target, None, 1.0);
    assert_eq!(by_comm(&d, "sleep").len(), 2);
    let busy = mean_busy_cores(&d, 0.0);
    assert!(busy < 0.05, "sleepers are idle: {busy}");
    let last = d.timeline.last().unwrap();
    assert_eq!(
        (last.processes, last.threads, last.running_threads),
        (3, 3, 0)
    );
}

#[test]
fn short_lived_child_is_recorded() {
    let target = Target::sh("sleep 0.3; timeout 0.3 yes > /dev/null; sleep 0.5");
    let d = sample_for(&target, None, 1.0);
    let yes = by_comm(&d, "yes");
    assert_eq!(yes.len(), 1, "{:?}", d.processes);
    let life = yes[0].last_seen_s - yes[0].first_seen_s;
    assert!((0.15..0.6).contains(&life), "lived ~0.3 s: {life}");
    let timeout = by_comm(&d, "timeout");
    assert_eq!(timeout.len(), 1);
    assert_eq!(yes[0].ppid, timeout[0].pid);
    assert_eq!(yes[0].cmdline, ["yes"]);
    let t = &yes[0].threads[0];
    assert!(
        t.on_cpu_s > 0.02,
        "it spun, even on a loaded host: {}",
        t.on_cpu_s
    );
    assert!(t.busy.iter().any(|&x| x > 0.05), "{:?}", t.busy);
    assert!(d.timeline.iter().all(|t| t.processes >= 1));
}

#[test]
fn orphaned_grandchild_is_found_by_process_group() {
    // The middle shell exits at once, so `yes` is reparented before any tick can see its parent.
    let target = Target::sh("sleep 0.2; sh -c 'yes > /dev/null &'; sleep 0.6");
    let d = sample_for(&target, None, 0.8);
    let yes = by_comm(&d, "yes");
    assert_eq!(yes.len(), 1, "{:?}", d.processes);
    assert_ne!(yes[0].ppid, target.pid);
}

#[test]
fn python_with_four_threads_is_one_process() {
    let script = "import threading, time\n\
                  ev = threading.Event()\n\
                  ts = [threading.Thread(target=ev.wait) for _ in range(3)]\n\
                  [t.start() for t in ts]\n\
                  time.sleep(3); ev.set()";
    let mut cmd = Command::new(python());
    cmd.args(["-c", script]).process_group(0);
    let child = cmd.spawn().expect("spawn python");
    let target = Target {
        pid: child.id() as i32,
        child,
    };
    std::thread::sleep(Duration::from_millis(500));
    let d = sample_for(&target, Some(50.0), 0.6);
    assert_eq!(d.processes.len(), 1, "{:?}", d.processes);
    let p = &d.processes[0];
    assert!(p.threads.len() >= 4, "{} threads", p.threads.len());
    assert!(p.comm.starts_with("python"), "{}", p.comm);
    assert!(
        p.max_pss_bytes.unwrap_or(0) > 1 << 20,
        "PSS read: {:?}",
        p.max_pss_bytes
    );
    assert!(p.io.is_some());
    assert!(d.timeline.last().unwrap().threads >= 4);
    for t in &p.threads {
        assert!(!t.comm.is_empty());
        assert_eq!(t.busy.len(), d.timeline.len() - t.first_tick as usize);
    }
}

#[test]
fn root_that_execs_shows_its_new_image() {
    let py = python();
    let py = py.to_str().unwrap();
    let target = Target::sh(&format!(
        "sleep 0.3; exec '{py}' -c 'import time; time.sleep(0.6)' fin"
    ));
    let d = sample_for(&target, None, 0.7);
    let root = d.processes.iter().find(|p| p.pid == target.pid).unwrap();
    assert!(
        root.comm.starts_with("python"),
        "comm after exec: {}",
        root.comm
    );
    assert_eq!(
        root.cmdline.last().map(String::as_str),
        Some("fin"),
        "{:?}",
        root.cmdline
    );
    assert!(
        root.exe.as_deref().unwrap_or("").contains("python"),
        "{:?}",
        root.exe
    );
}

#[test]
fn requested_and_adaptive_rates_are_sane() {
    let target = Target::sh("sleep 3");
    let d = sample_for(&target, Some(50.0), 1.0);
    assert_eq!(d.requested_hz, Some(50.0));
    assert!((30.0..=52.0).contains(&d.achieved_hz), "{}", d.achieved_hz);
    assert_eq!(d.ticks, d.timeline.len() as u64);
    let d = sample_for(&target, None, 1.0);
    assert!(
        (30.0..=102.0).contains(&d.achieved_hz),
        "adaptive: {}",
        d.achieved_hz
    );
    assert!(
        d.sampler_cpu_s > 0.0 && d.sampler_cpu_s < 0.2,
        "{}",
        d.sampler_cpu_s
    );
    assert!(d.timeline.windows(2).all(|w| w[1].t_s > w[0].t_s));
}

#[test]
fn tree_that_exits_midway_is_not_an_error() {
    let mut target = Target::sh("yes > /dev/null & sleep 0.3; kill $!");
    let h = sampler::start(target.pid, Instant::now(), config(None)).unwrap();
    target.wait();
    std::thread::sleep(Duration::from_millis(300));
    let d = h.finish();
    assert_eq!(d.errors, 0);
    assert!(d.ticks > 10);
    let last = d.timeline.last().unwrap();
    assert_eq!((last.processes, last.threads), (0, 0));
    assert_eq!(by_comm(&d, "yes").len(), 1);
}

#[test]
fn missing_root_is_an_error() {
    let err = sampler::start(i32::MAX - 1, Instant::now(), SamplerConfig::default()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

/// Threads that each block on one kind of resource; each names itself (comm) for the test.
const WAITERS: &str = r#"
import ctypes, os, select, socket, sys, threading, time
libc = ctypes.CDLL(None)
def name(n): libc.prctl(15, n.encode(), 0, 0, 0)
d = sys.argv[1]
srv = socket.socket(socket.AF_UNIX); srv.bind(d + "/s.sock"); srv.listen(8)
tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen(8)
port = tcp.getsockname()[1]
r1, w1 = os.pipe(); r2, w2 = os.pipe()
lock = threading.Lock(); lock.acquire()
def acceptor():
    name("acceptor"); keep = [srv.accept()[0] for _ in range(2)]; srv.accept()
def uclient(i):
    name(f"uclient{i}"); c = socket.socket(socket.AF_UNIX); c.connect(d + "/s.sock"); c.recv(1)
def tclient():
    name("tclient"); c = socket.create_connection(("127.0.0.1", port)); c.recv(1)
def piper():
    name("piper"); os.read(r1, 1)
def poller():
    name("poller"); select.select([r1, r2], [], [])
def locker():
    name("locker"); lock.acquire()
def sleeper():
    name("sleeper"); time.sleep(60)
for f, a in [(acceptor, ()), (uclient, (0,)), (uclient, (1,)), (tclient, ()), (piper, ()),
             (poller, ()), (locker, ()), (sleeper, ())]:
    threading.Thread(target=f, args=a, daemon=True).start()
print(port, flush=True)
time.sleep(60)
"#;

/// The resource a thread (by comm) waited on most, with its kind.
fn main_wait(p: &ProcessRecord, comm: &str) -> (String, String) {
    let t = p.threads.iter().find(|t| t.comm == comm);
    let t = t.unwrap_or_else(|| panic!("no thread {comm}: {:?}", p.threads));
    let w = t.waits.iter().max_by_key(|w| w.ticks);
    let w = w.unwrap_or_else(|| panic!("{comm} never blocked: {}", t.states));
    (w.resource.clone(), w.kind.clone())
}

#[test]
fn blocked_threads_are_named_by_what_they_wait_on() {
    let dir = std::env::temp_dir().join(format!("fc-waits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(python());
    cmd.args(["-c", WAITERS]).arg(&dir).process_group(0);
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().to_string();
    let target = Target {
        pid: child.id() as i32,
        child,
    };
    std::thread::sleep(Duration::from_millis(300));
    let d = sample_for(&target, Some(50.0), 1.0);
    drop(target);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(d.errors, 0);
    let p = &d.processes[0];
    let sock = format!("unix:{}/s.sock", dir.display());
    assert_eq!(main_wait(p, "uclient0"), (sock.clone(), "unix".into()));
    assert_eq!(
        main_wait(p, "uclient1"),
        (sock.clone(), "unix".into()),
        "same sink"
    );
    assert_eq!(main_wait(p, "acceptor"), (sock, "unix".into()));
    assert_eq!(
        main_wait(p, "tclient"),
        (format!("tcp:127.0.0.1:{port}"), "tcp".into())
    );
    let (pipe, kind) = main_wait(p, "piper");
    assert!(pipe.starts_with("pipe:[") && kind == "pipe", "{pipe}");
    let (polled, kind) = main_wait(p, "poller");
    assert_eq!(kind, "poll");
    assert!(
        polled.starts_with("poll:pipe:[") && polled.contains(&pipe),
        "{polled}"
    );
    assert_eq!(main_wait(p, "locker"), ("futex".into(), "futex".into()));
    assert_eq!(main_wait(p, "sleeper"), ("sleep".into(), "sleep".into()));
    let sleeper = p.threads.iter().find(|t| t.comm == "sleeper").unwrap();
    assert!(
        sleeper.states.chars().all(|c| c == 'S'),
        "{}",
        sleeper.states
    );
    let w = &sleeper.waits[0];
    assert_eq!(
        (w.syscall.as_str(), w.ticks as usize),
        ("clock_nanosleep", sleeper.states.len())
    );
    assert!(
        (w.blocked_s - 1.0).abs() < 0.25,
        "blocked ~ the whole sample: {}",
        w.blocked_s
    );
}

#[test]
fn gil_contention_shows_as_futex_waits() {
    let script = "import threading, time\n\
                  def spin():\n    end = time.time() + 4\n    while time.time() < end: pass\n\
                  ts = [threading.Thread(target=spin) for _ in range(3)]\n\
                  [t.start() for t in ts]; [t.join() for t in ts]";
    let mut cmd = Command::new(python());
    cmd.args(["-c", script]).process_group(0);
    let child = cmd.spawn().unwrap();
    let target = Target {
        pid: child.id() as i32,
        child,
    };
    std::thread::sleep(Duration::from_millis(400));
    let d = sample_for(&target, None, 1.5);
    let p = &d.processes[0];
    let blocked = |kind: &str| -> f64 {
        let waits = p.threads.iter().flat_map(|t| &t.waits);
        waits
            .filter(|w| kind.is_empty() || w.kind == kind)
            .map(|w| w.blocked_s)
            .sum()
    };
    let (futex, all) = (blocked("futex"), blocked(""));
    eprintln!("futex {futex:.2} s of {all:.2} s blocked");
    assert!(
        futex > 0.5 * all && futex > 0.5,
        "GIL waits are futex waits: {futex} of {all}"
    );
    let busy: f32 = p.threads.iter().flat_map(|t| &t.busy).sum();
    assert!(busy > 0.0);
}

#[test]
fn a_shell_waiting_for_its_child_waits_on_child() {
    let target = Target::sh("sleep 2; true");
    let d = sample_for(&target, None, 0.5);
    let root = d.processes.iter().find(|p| p.pid == target.pid).unwrap();
    assert_eq!(main_wait(root, "sh"), ("child".into(), "wait".into()));
    let sleep = by_comm(&d, "sleep");
    assert_eq!(
        main_wait(sleep[0], "sleep"),
        ("sleep".into(), "sleep".into())
    );
}

#[test]
fn a_pipe_is_held_by_both_ends_and_waited_on_by_the_reader() {
    let target = Target::sh("sleep 3 | cat; true");
    std::thread::sleep(Duration::from_millis(100));
    let d = sample_for(&target, None, 0.6);
    let (cat, sleep) = (by_comm(&d, "cat"), by_comm(&d, "sleep"));
    let (pipe, kind) = main_wait(cat[0], "cat");
    assert_eq!(kind, "pipe");
    assert!(cat[0].held.contains(&pipe), "{:?}", cat[0].held);
    assert!(
        sleep[0].held.contains(&pipe),
        "the writer holds the other end: {:?}",
        sleep[0].held
    );
    let root = d.processes.iter().find(|p| p.pid == target.pid).unwrap();
    assert!(
        !root.held.contains(&pipe),
        "the shell closed its copies: {:?}",
        root.held
    );
}
