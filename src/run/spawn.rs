//! Starting the target: a raw fork held at a pre-exec barrier (so counters attach before exec),
//! in its own process group, with stdout/stderr going to files.
//!
//! The target is not forkcast's child but the child of a keeper (src/run/keeper.rs): forkcast
//! forks an intermediate process that becomes a child subreaper, forks the target, and then
//! execs forkcast's keeper mode. Every orphan of the tree (setsid, double fork) comes back to
//! the keeper, and the keeper kills the whole tree the moment forkcast dies (kill -9 included),
//! because it watches a pipe whose only write end forkcast holds.
//!
//! `std::process::Command` cannot do this: `spawn` waits for the child's exec, so a `pre_exec`
//! that waits for the parent deadlocks (measured: spawn returned only once another thread opened
//! the gate).

use super::keeper;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A forked child waiting at the barrier for `release`, with the keeper that reaps its tree.
#[derive(Debug)]
pub struct GatedChild {
    /// The target (the tree's root).
    pub pid: i32,
    /// A pidfd of the target, opened while it is held at the gate, so its exit can be polled
    /// although the keeper reaps it.
    pub pidfd: OwnedFd,
    /// The keeper: forkcast's child, parent and subreaper of the target's tree.
    pub keeper: i32,
    /// forkcast's end of the lifeline; closing it tells the keeper to kill what is left, send
    /// its report and exit.
    lifeline: Option<OwnedFd>,
    /// The keeper's report: the target's pid first (4 bytes), its final line at the end.
    report: Option<File>,
    gate: Option<OwnedFd>,
    exec_error: OwnedFd,
}

/// What the target's standard streams are connected to.
pub struct Stdio {
    pub stdout: File,
    pub stderr: File,
}

/// Finds `program` the way execvp would (a name with a slash is taken as is).
pub fn resolve_program(program: &str) -> Option<PathBuf> {
    let is_executable = |p: &Path| {
        let c = CString::new(p.as_os_str().as_bytes()).ok();
        // SAFETY: access() only reads the NUL-terminated path we own.
        c.is_some_and(|c| unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0) && p.is_file()
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

/// Forks the target, stopped before exec until `release` is called.
pub fn spawn_gated(
    program: &Path,
    argv: &[String],
    env: &[(OsString, OsString)],
    stdio: &Stdio,
) -> io::Result<GatedChild> {
    // Everything the child needs is built before fork: after fork only async-signal-safe calls.
    let c_program = cstring(program.as_os_str())?;
    let c_argv: Vec<CString> = argv
        .iter()
        .map(|a| cstring(OsStr::new(a)))
        .collect::<Result<_, _>>()?;
    let c_env: Vec<CString> = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            cstring(&kv)
        })
        .collect::<Result<_, _>>()?;
    let argv_ptrs = null_terminated(&c_argv);
    let env_ptrs = null_terminated(&c_env);
    let devnull = File::open("/dev/null")?;
    let (gate_read, gate_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let (lifeline_read, lifeline_write) = pipe()?;
    let (report_read, report_write) = pipe()?;
    let keeper = keeper::KeeperArgv::new(lifeline_read.as_raw_fd(), report_write.as_raw_fd())?;
    let keeper_argv = keeper.pointers();
    let keeper_exe = cstring(OsStr::new("/proc/self/exe"))?;
    let target = Target {
        gate: gate_read.as_raw_fd(),
        err: err_write.as_raw_fd(),
        devnull: devnull.as_raw_fd(),
        stdio,
        program: &c_program,
        argv: &argv_ptrs,
        env: &env_ptrs,
        close: [
            gate_write.as_raw_fd(),
            err_read.as_raw_fd(),
            lifeline_read.as_raw_fd(),
            lifeline_write.as_raw_fd(),
            report_read.as_raw_fd(),
            report_write.as_raw_fd(),
        ],
    };

    // SAFETY: fork has no preconditions; the child branch below only makes async-signal-safe
    // calls on data prepared above and ends in execve or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: child after fork; every call is async-signal-safe and all pointers point into
        // buffers built before fork that stay alive until execve/_exit.
        unsafe {
            libc::close(lifeline_write.as_raw_fd());
            libc::close(report_read.as_raw_fd());
            become_keeper(
                &target,
                lifeline_read.as_raw_fd(),
                report_write.as_raw_fd(),
                &keeper,
                &keeper_exe,
                &keeper_argv,
            )
        }
    }
    drop((gate_read, err_write, lifeline_read, report_write));
    let mut report = File::from(report_read);
    let mut first = [0u8; 4];
    let started = report
        .read_exact(&mut first)
        .map(|_| i32::from_ne_bytes(first));
    let keeper_failed = |e: io::Error| {
        // SAFETY: waiting for our own child, the keeper, which exits on its own.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        e
    };
    let target_pid = match started {
        Ok(p) if p > 0 => p,
        Ok(errno) => return Err(keeper_failed(io::Error::from_raw_os_error(-errno))),
        Err(e) => return Err(keeper_failed(e)),
    };
    let mut ready = [0u8; 1];
    if report.read_exact(&mut ready).is_err() || ready[0] != keeper::READY {
        return Err(keeper_failed(io::Error::other(
            "the keeper process did not start (exec of /proc/self/exe failed)",
        )));
    }
    // SAFETY: the pidfd_open syscall takes a pid and flags and returns a new fd; the target is
    // held at the gate, so the pid is still the target's.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, target_pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd was just returned by pidfd_open and is owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    Ok(GatedChild {
        pid: target_pid,
        pidfd,
        keeper: pid,
        lifeline: Some(lifeline_write),
        report: Some(report),
        gate: Some(gate_write),
        exec_error: err_read,
    })
}

impl GatedChild {
    /// Lets the child exec. Returns the exec error if exec failed (the child has then exited 127).
    pub fn release(&mut self) -> io::Result<()> {
        drop(self.gate.take());
        let mut buf = [0u8; 4];
        // SAFETY: reading into a local buffer from a pipe fd we own. EOF (0) means exec
        // succeeded, because the write end is close-on-exec.
        let n = loop {
            let n = unsafe { libc::read(self.exec_error.as_raw_fd(), buf.as_mut_ptr().cast(), 4) };
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break n;
        };
        if n == 4 {
            return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(buf)));
        }
        Ok(())
    }

    /// Tells the keeper the run is over (it kills whatever is left of the tree), and returns its
    /// report: how the target ended and the rusage summed over every process it reaped.
    pub fn finish(&mut self) -> io::Result<keeper::KeeperReport> {
        drop(self.lifeline.take());
        let mut text = String::new();
        let read = match self.report.take() {
            Some(mut r) => r.read_to_string(&mut text).map(|_| ()),
            None => Err(io::Error::other("the keeper's report was already read")),
        };
        self.wait_keeper();
        read?;
        keeper::KeeperReport::parse(&text)
            .ok_or_else(|| io::Error::other(format!("the keeper's report is garbled: {text:?}")))
    }

    fn wait_keeper(&mut self) {
        if self.keeper > 0 {
            // SAFETY: waiting for our own child, the keeper, which exits once the lifeline closes.
            unsafe { libc::waitpid(self.keeper, std::ptr::null_mut(), 0) };
            self.keeper = 0;
        }
    }
}

impl Drop for GatedChild {
    /// A run abandoned half-way (an error before release) still ends with its tree killed.
    fn drop(&mut self) {
        drop(self.lifeline.take());
        drop(self.report.take());
        self.wait_keeper();
    }
}

/// Everything the target's side of the fork needs, built before fork.
struct Target<'a> {
    gate: RawFd,
    err: RawFd,
    devnull: RawFd,
    stdio: &'a Stdio,
    program: &'a CString,
    argv: &'a [*const libc::c_char],
    env: &'a [*const libc::c_char],
    /// forkcast's and the keeper's pipe ends, which the target must not hold: the gate's write
    /// end and the exec error's read end first, then the lifeline and the report pipes.
    close: [RawFd; 6],
}

/// The intermediate process: becomes the subreaper, forks the target, reports its pid and
/// execs the keeper.
///
/// # Safety
/// Must only run in the child right after fork.
unsafe fn become_keeper(
    target: &Target,
    lifeline: RawFd,
    report: RawFd,
    keeper: &keeper::KeeperArgv,
    exe: &CString,
    argv: &[*const libc::c_char],
) -> ! {
    // Its own group: Ctrl-C at the terminal or a signal to forkcast's group must not take the
    // keeper down before it has cleaned up.
    libc::setpgid(0, 0);
    libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    let pid = libc::fork();
    if pid == 0 {
        target_after_fork(target);
    }
    // The gate and exec-error pipes are the target's and forkcast's alone: were they still open
    // here until the keeper's exec, `release` would wait for that exec too, and a run of a few
    // ms would be timed with it (seen as a 3x "speedup" between two 2 ms runs).
    for fd in [target.gate, target.err, target.close[0], target.close[1]] {
        libc::close(fd);
    }
    let first = if pid < 0 {
        -*libc::__errno_location()
    } else {
        libc::setpgid(pid, pid);
        pid
    };
    libc::write(report, first.to_ne_bytes().as_ptr().cast(), 4);
    if pid < 0 {
        libc::_exit(127);
    }
    keeper.patch_root(pid);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        libc::signal(sig, libc::SIG_IGN);
    }
    for fd in [lifeline, report] {
        libc::fcntl(fd, libc::F_SETFD, 0);
    }
    libc::dup2(target.devnull, 0);
    libc::dup2(target.devnull, 1);
    let no_env: [*const libc::c_char; 1] = [std::ptr::null()];
    libc::execve(exe.as_ptr(), argv.as_ptr(), no_env.as_ptr());
    // No keeper, so nobody would reap or kill the target: take it down now.
    libc::kill(pid, libc::SIGKILL);
    libc::_exit(127);
}

/// # Safety
/// Must only run in the child right after fork.
unsafe fn target_after_fork(t: &Target) -> ! {
    for fd in t.close {
        libc::close(fd);
    }
    let (gate, err, devnull, stdio) = (t.gate, t.err, t.devnull, t.stdio);
    let (program, argv, env) = (t.program, t.argv, t.env);
    libc::setpgid(0, 0);
    // Rust ignores SIGPIPE; the target must get the default dispositions and an empty mask.
    for sig in [
        libc::SIGPIPE,
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGQUIT,
        libc::SIGCHLD,
    ] {
        libc::signal(sig, libc::SIG_DFL);
    }
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    libc::dup2(devnull, 0);
    libc::dup2(stdio.stdout.as_raw_fd(), 1);
    libc::dup2(stdio.stderr.as_raw_fd(), 2);
    // The barrier: wait until the parent has attached its counters and closes the gate.
    let mut byte = 0u8;
    while libc::read(gate, (&mut byte as *mut u8).cast(), 1) < 0
        && *libc::__errno_location() == libc::EINTR
    {}
    libc::execve(program.as_ptr(), argv.as_ptr(), env.as_ptr());
    let errno = (*libc::__errno_location()).to_ne_bytes();
    libc::write(err, errno.as_ptr().cast(), 4);
    libc::_exit(127);
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in argument"))
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
