//! Starting the target: a raw fork held at a pre-exec barrier (so counters attach before exec),
//! in its own process group, with stdout/stderr going to files.
//!
//! `std::process::Command` cannot do this: `spawn` waits for the child's exec, so a `pre_exec`
//! that waits for the parent deadlocks (measured, ../shared/HOST-AND-CRATES.md section 1).

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A forked child waiting at the barrier for `release`.
#[derive(Debug)]
pub struct GatedChild {
    pub pid: i32,
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
            // The child holds copies of the parent's pipe ends: close them, or the gate never
            // reads EOF and exec success is never seen.
            libc::close(gate_write.as_raw_fd());
            libc::close(err_read.as_raw_fd());
            child_after_fork(
                gate_read.as_raw_fd(),
                err_write.as_raw_fd(),
                devnull.as_raw_fd(),
                stdio,
                &c_program,
                &argv_ptrs,
                &env_ptrs,
            )
        }
    }
    // Also set the group from the parent, so it holds before we signal it (no race).
    // SAFETY: setpgid on our own child; failure (child already exec'd) is harmless.
    unsafe { libc::setpgid(pid, pid) };
    drop(gate_read);
    drop(err_write);
    Ok(GatedChild {
        pid,
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
}

/// # Safety
/// Must only run in the child right after fork.
#[allow(clippy::too_many_arguments)]
unsafe fn child_after_fork(
    gate: RawFd,
    err: RawFd,
    devnull: RawFd,
    stdio: &Stdio,
    program: &CString,
    argv: &[*const libc::c_char],
    env: &[*const libc::c_char],
) -> ! {
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
