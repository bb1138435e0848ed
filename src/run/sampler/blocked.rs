//! For a thread found blocked (S or D): which syscall it waits in and on what resource,
//! folded into its record's wait counts.
//!
//! Cheap by construction: nothing is read for a thread that has not run since it was last
//! seen blocked (its wait can't have changed), `syscall` (~1-2 µs, kept open) is read only for
//! threads that ran, and a wait identical to the previous one (same syscall, first two args)
//! reuses its resolution without a readlink.

use super::resolve::{Resolver, Resource};
use super::sys::{is_gone, ProcFile};
use super::wait::{classify, parse_syscall, SyscallState};
use crate::measure::{ResourceKind, WaitCount};
use std::path::Path;

/// The last wait seen: (syscall nr, arg0, arg1) and its index in the record's waits.
#[derive(Debug, Clone, Copy)]
struct Memo {
    key: (i64, u64, u64),
    idx: usize,
}

/// Per-thread state for reading waits.
#[derive(Debug, Default)]
pub(super) struct BlockedProbe {
    syscall: Option<ProcFile>,
    /// syscall could not be opened or read (no ptrace access): reported once.
    unreadable: bool,
    memo: Option<Memo>,
}

/// What one look found.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Looked {
    /// Index into the record's waits; None when the thread turned out to be running.
    pub idx: Option<usize>,
    /// Reads that failed for a reason other than the task exiting.
    pub errors: u32,
}

impl BlockedProbe {
    /// The wait of a blocked thread. `idle`: it has not run since the last look.
    pub(super) fn look(
        &mut self,
        pid: i32,
        tid: i32,
        idle: bool,
        res: &mut Resolver,
        buf: &mut Vec<u8>,
        waits: &mut Vec<WaitCount>,
    ) -> Looked {
        if idle {
            if let Some(m) = self.memo {
                return Looked {
                    idx: Some(m.idx),
                    errors: 0,
                };
            }
        }
        let mut errors = 0;
        let state = self.read(pid, tid, buf, &mut errors);
        let (key, resource, syscall) = match state {
            Some(SyscallState::Running) => return Looked { idx: None, errors },
            None => (
                (-2, 0, 0),
                Resource::new("unknown", ResourceKind::Other),
                "unknown".to_string(),
            ),
            Some(SyscallState::NotInSyscall) => {
                let wchan = read_wchan(pid, tid, buf);
                (
                    (-1, 0, 0),
                    Resource::new(format!("other:{wchan}"), ResourceKind::Other),
                    "none".to_string(),
                )
            }
            Some(SyscallState::Blocked { nr, args }) => {
                let key = (nr, args[0], args[1]);
                if let Some(m) = self.memo.filter(|m| m.key == key) {
                    return Looked {
                        idx: Some(m.idx),
                        errors,
                    };
                }
                let call = classify(nr, &args);
                let name = call
                    .name
                    .map_or_else(|| format!("sys_{nr}"), str::to_string);
                (key, res.resolve(pid, &call), name)
            }
        };
        let idx = index_of(waits, resource, syscall);
        self.memo = Some(Memo { key, idx });
        Looked {
            idx: Some(idx),
            errors,
        }
    }

    /// Reads /proc/PID/task/TID/syscall through a kept-open fd; None when unreadable.
    fn read(
        &mut self,
        pid: i32,
        tid: i32,
        buf: &mut Vec<u8>,
        errors: &mut u32,
    ) -> Option<SyscallState> {
        if self.unreadable {
            return None;
        }
        if self.syscall.is_none() {
            let path = format!("/proc/{pid}/task/{tid}/syscall");
            match ProcFile::open(Path::new(&path)) {
                Ok(f) => self.syscall = Some(f),
                Err(e) => {
                    self.give_up(&e, errors);
                    return None;
                }
            }
        }
        if let Err(e) = self.syscall.as_ref()?.read(buf) {
            self.give_up(&e, errors);
            return None;
        }
        parse_syscall(buf)
    }

    fn give_up(&mut self, e: &std::io::Error, errors: &mut u32) {
        if !is_gone(e) {
            self.unreadable = true;
            *errors += 1;
        }
    }
}

/// The kernel function a task sleeps in (e.g. "folio_wait_bit_common"), for waits outside a
/// syscall; opened only for them, as they are rare.
fn read_wchan(pid: i32, tid: i32, buf: &mut Vec<u8>) -> String {
    let path = format!("/proc/{pid}/task/{tid}/wchan");
    match super::sys::read_once(Path::new(&path), buf) {
        Ok(()) if !buf.is_empty() && buf.as_slice() != b"0" => {
            String::from_utf8_lossy(buf).into_owned()
        }
        _ => "kernel".into(),
    }
}

/// The index of (resource, syscall) in the thread's waits, added when new.
fn index_of(waits: &mut Vec<WaitCount>, r: Resource, syscall: String) -> usize {
    if let Some(i) = waits
        .iter()
        .position(|w| w.resource == r.name && w.syscall == syscall)
    {
        return i;
    }
    waits.push(WaitCount {
        resource: r.name,
        kind: r.kind,
        plumbing: r.plumbing,
        service: r.service,
        syscall,
        ticks: 0,
        blocked_s: 0.0,
    });
    waits.len() - 1
}
