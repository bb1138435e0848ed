//! What this host and user let forkcast measure, checked by trying each thing once: the answer
//! `forkcast doctor` prints, with how to enable what is missing.

use perf_event::events::{Event, Hardware, Software};
use perf_event::Builder;
use std::path::Path;

/// One thing forkcast measures, and whether it works here.
#[derive(Debug, Clone)]
pub struct Capability {
    /// Short stable name (`perf_kernel`, `proc_syscall`, ...).
    pub name: &'static str,
    pub available: bool,
    /// What it gives the report.
    pub gives: &'static str,
    /// Why not, and how to enable it; empty when available.
    pub fix: String,
}

/// Tries every capability once (opens perf events on this process, reads a child's /proc).
pub fn check() -> Vec<Capability> {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let root = super::os::effective_uid() == 0;
    let lower_paranoid = format!(
        "perf_event_paranoid is {}; run forkcast as root, or lower it: sudo sysctl kernel.perf_event_paranoid=1",
        paranoid.map_or("unreadable".into(), |p| p.to_string())
    );
    let child_proc = ChildProc::start();
    let mut caps = vec![
        cap(
            "perf_software",
            opens(&Software::TASK_CLOCK, false),
            "task-clock and page faults of the whole tree (perf_event)",
            "perf_event_open is refused (a container's seccomp profile, or perf_event_paranoid 3 \
             on some distributions); CPU time falls back to rusage: allow perf_event_open or \
             lower kernel.perf_event_paranoid to 2",
        ),
        cap(
            "perf_kernel",
            opens(&Software::CONTEXT_SWITCHES, true),
            "context switches and CPU migrations of the tree (kernel-side perf_event counters)",
            &lower_paranoid,
        ),
        cap(
            "perf_hardware",
            opens(&Hardware::INSTRUCTIONS, false),
            "cycles and instructions (hardware PMU)",
            "no hardware PMU is exposed (typical in a VM): enable the virtual PMU in the \
             hypervisor, or do without (nothing in the diagnosis needs it)",
        ),
        // The switch recorder's own check, so doctor and a run never disagree.
        cap_result(
            "perf_switch_records",
            super::switches::available(),
            "exact off-CPU time per thread from perf context-switch records (else the procfs \
             sampler estimates it)",
        ),
        cap(
            "tracefs",
            std::fs::read_to_string("/sys/kernel/tracing/events/sched/sched_switch/id").is_ok(),
            "scheduler tracepoint ids (/sys/kernel/tracing)",
            "tracefs is not mounted or not readable: mount -t tracefs nodev /sys/kernel/tracing, \
             or run as root",
        ),
        cap(
            "proc_syscall",
            child_proc.can_read("syscall"),
            "what each blocked thread waits on (/proc/PID/syscall: the off-CPU breakdown, sinks)",
            "/proc/PID/syscall of a child is not readable (ptrace access is restricted): run \
             forkcast as root, or lower kernel.yama.ptrace_scope to 1",
        ),
        cap(
            "proc_io",
            child_proc.can_read("io"),
            "bytes each process read and wrote (/proc/PID/io)",
            "/proc/PID/io of a child is not readable: run forkcast as root, or lower \
             kernel.yama.ptrace_scope to 1",
        ),
        cap(
            "other_users",
            root,
            "the /proc files of targets that run as another user, are setuid, or make \
             themselves non-dumpable",
            "forkcast is not root: such targets hide what they wait on and their I/O; run \
             forkcast as root (or with CAP_SYS_PTRACE) to see them",
        ),
        cap_result(
            "preload_probe",
            preload_library(),
            "bytes, calls and blocked time per pipe, socket and file (LD_PRELOAD probe)",
        ),
        cap(
            "python",
            super::spawn::resolve_program("python3").is_some(),
            "pickling, task durations and start methods of CPython targets (python probe)",
            "no python3 on PATH: the python probe only matters for CPython targets, which bring \
             their own interpreter",
        ),
    ];
    drop(child_proc);
    caps.sort_by_key(|c| !c.available);
    caps
}

fn cap(name: &'static str, available: bool, gives: &'static str, fix: &str) -> Capability {
    cap_result(
        name,
        available.then_some(()).ok_or_else(|| fix.to_string()),
        gives,
    )
}

/// A capability from a check that says why it failed, with the fix.
fn cap_result(name: &'static str, check: Result<(), String>, gives: &'static str) -> Capability {
    Capability {
        name,
        available: check.is_ok(),
        gives,
        fix: check.err().unwrap_or_default(),
    }
}

/// Writes the embedded preload library where a run would: the cache folder, else (as a run falls
/// back to its own output folder) a private scratch folder, removed again.
fn preload_library() -> Result<(), String> {
    let scratch = std::env::temp_dir().join(format!("forkcast-doctor-{}", std::process::id()));
    let found = super::probes::locate_preload_lib(Some(&scratch));
    let _ = std::fs::remove_dir_all(&scratch);
    found.map(|_| ()).map_err(|e| {
        format!(
            "{e:#}: set XDG_CACHE_HOME to a folder you own, or {} to a copy of the library",
            super::probes::ENV_PRELOAD_LIB
        )
    })
}

/// Opens `event` on this process, counting kernel-side events too when `kernel`.
fn opens(event: &(impl Event + Clone + 'static), kernel: bool) -> bool {
    let mut b = Builder::new(event.clone());
    b.observe_self().any_cpu();
    if kernel {
        b.include_kernel();
    }
    b.build().is_ok()
}

/// A sleeping child of ours, whose /proc files stand for a target's.
struct ChildProc(Option<std::process::Child>);

impl ChildProc {
    fn start() -> ChildProc {
        let child = std::process::Command::new("sleep")
            .arg("5")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok();
        ChildProc(child)
    }

    fn can_read(&self, file: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|c| std::fs::read(Path::new(&format!("/proc/{}/{file}", c.id()))).is_ok())
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
