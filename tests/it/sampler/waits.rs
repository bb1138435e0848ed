//! What blocked threads wait on, named from outside: unix and tcp servers, pipes, select on
//! several fds, a lock, sleep, GIL contention, a shell waiting for its child.

use super::{by_comm, python, sample_for, Target};
use forkcast::measure::ProcessRecord;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

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
    (w.resource.clone(), w.kind.to_string())
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
            .filter(|w| kind.is_empty() || w.kind.as_str() == kind)
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
