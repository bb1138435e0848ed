//! What the preload probe sees beyond pipes: TCP peers, children forked from threads, and which
//! targets it can reach.

use super::*;
use forkcast::measure::probes::ExitPath;

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

#[test]
fn file_writes_sendfile_and_fsync_land_on_the_files_directory() {
    let scratch = Scratch::new("probe-files");
    let script = scratch.write(
        "files.py",
        r#"
import json, os

os.mkdir("data")
src = os.open("data/src.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(src, b"s" * 100_000)
os.fsync(src)
os.close(src)
src = os.open("data/src.bin", os.O_RDONLY)
dst = os.open("data/dst.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
sent = 0
while sent < 100_000:
    sent += os.sendfile(dst, src, sent, 100_000 - sent)
os.close(src)
os.close(dst)
print(json.dumps({"dir": os.path.realpath("data")}))
"#,
    );
    let (ran, data) = run_probed(&scratch, &[ProbeKind::Preload], &script, &[], &[]);
    let dir = ran.summary()["dir"].as_str().unwrap().to_owned();
    let p = preload_of(&data, ran.pid);
    let on_dir = |d: IoDir| -> (u64, u64, u64) {
        p.rows
            .iter()
            .filter(|r| r.kind == FdKind::File && r.dir == d && r.peer.as_deref() == Some(&dir))
            .fold((0, 0, 0), |(b, c, n), r| {
                (b + r.bytes, c + r.calls, n + r.blocked_ns)
            })
    };
    let (out_bytes, _, out_ns) = on_dir(IoDir::Out);
    let (in_bytes, _, in_ns) = on_dir(IoDir::In);
    let (sync_bytes, sync_calls, sync_ns) = on_dir(IoDir::Sync);
    assert_eq!(
        out_bytes, 200_000,
        "one write plus the sendfile destination: {p:#?}"
    );
    assert_eq!(in_bytes, 100_000, "the sendfile source");
    assert_eq!(in_ns, 0, "a copy's time is on its destination only");
    assert!(out_ns > 0 && sync_ns > 0);
    assert_eq!((sync_bytes, sync_calls), (0, 1));
}
