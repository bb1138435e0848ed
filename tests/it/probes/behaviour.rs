//! The target behaves exactly as before: results, errno, its own LD_PRELOAD and sitecustomize;
//! and without their variables the probes record nothing.

use super::*;

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
