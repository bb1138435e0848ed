//! perf_event counters for the whole process tree: opened on the gated child with inherit and
//! enable_on_exec, so they count every thread and descendant from exec on.
//!
//! Each event is opened on its own: one failing event (no PMU in a VM) must not take the others
//! down. Kernel-side counting is tried first, since with `exclude_kernel` context switches and
//! migrations read 0 (measured); without permission (non-root under perf_event_paranoid 2:
//! EACCES) we fall back to user-only counting and mark those counters unavailable instead of
//! reporting 0.

use crate::measure::Counters;
use perf_event::events::{Event, Hardware, Software};
use perf_event::{Builder, Counter};
use std::io;

/// The counters attached to one run.
pub struct TreeCounters {
    task_clock: Option<Counter>,
    context_switches: Option<Counter>,
    cpu_migrations: Option<Counter>,
    page_faults: Option<Counter>,
    cycles: Option<Counter>,
    instructions: Option<Counter>,
    unavailable: Vec<String>,
}

/// What kind of counters this host gives: "hardware", "software" or "none".
pub fn host_counter_kind() -> &'static str {
    let probe = |event: &dyn Fn(&mut Builder)| {
        let mut b = Builder::new(Software::DUMMY);
        event(&mut b);
        b.observe_self().any_cpu().build().is_ok()
    };
    if probe(&|b| {
        b.event(Hardware::INSTRUCTIONS);
    }) {
        "hardware"
    } else if probe(&|b| {
        b.event(Software::TASK_CLOCK);
    }) {
        "software"
    } else {
        "none"
    }
}

impl TreeCounters {
    /// Opens every counter on `pid` (a child held before exec).
    pub fn attach(pid: i32) -> TreeCounters {
        let mut unavailable = Vec::new();
        let mut open = |name: &str, event: &dyn OpenEvent, needs_kernel: bool| match open_one(
            pid, event, true,
        ) {
            Ok(c) => Some(c),
            Err(kernel_err) => {
                if needs_kernel {
                    unavailable.push(format!(
                        "{name}: cannot count kernel-side events ({kernel_err}); run as root or \
                             lower /proc/sys/kernel/perf_event_paranoid to 1 or less"
                    ));
                    return None;
                }
                match open_one(pid, event, false) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        unavailable.push(describe_failure(name, &e));
                        None
                    }
                }
            }
        };
        let task_clock = open("task-clock", &Software::TASK_CLOCK, false);
        let context_switches = open("context-switches", &Software::CONTEXT_SWITCHES, true);
        let cpu_migrations = open("cpu-migrations", &Software::CPU_MIGRATIONS, true);
        let page_faults = open("page-faults", &Software::PAGE_FAULTS, false);
        let cycles = open("cycles", &Hardware::CPU_CYCLES, false);
        let instructions = open("instructions", &Hardware::INSTRUCTIONS, false);
        TreeCounters {
            task_clock,
            context_switches,
            cpu_migrations,
            page_faults,
            cycles,
            instructions,
            unavailable,
        }
    }

    /// True when not a single counter could be opened.
    pub fn is_empty(&self) -> bool {
        self.task_clock.is_none() && self.context_switches.is_none() && self.page_faults.is_none()
    }

    /// Reads the totals; call after the whole tree has been reaped so every child's counts are in.
    pub fn read(mut self) -> Counters {
        let read = |c: &mut Option<Counter>| c.as_mut().and_then(|c| c.read().ok());
        Counters {
            task_clock_s: read(&mut self.task_clock).map(|ns| ns as f64 * 1e-9),
            context_switches: read(&mut self.context_switches),
            cpu_migrations: read(&mut self.cpu_migrations),
            page_faults: read(&mut self.page_faults),
            cycles: read(&mut self.cycles),
            instructions: read(&mut self.instructions),
            unavailable: self.unavailable,
        }
    }
}

/// Lets `open_one` take events of different types.
trait OpenEvent {
    fn set(&self, b: &mut Builder);
}
impl<E: Event + Clone> OpenEvent for E {
    fn set(&self, b: &mut Builder) {
        b.event(self.clone());
    }
}

fn open_one(pid: i32, event: &dyn OpenEvent, kernel: bool) -> io::Result<Counter> {
    let mut b = Builder::new(Software::DUMMY);
    event.set(&mut b);
    b.observe_pid(pid)
        .any_cpu()
        .inherit(true)
        .enable_on_exec(true);
    if kernel {
        b.include_kernel();
    }
    b.build()
}

fn describe_failure(name: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => {
            format!("{name}: this host has no hardware PMU (typical in a VM)")
        }
        io::ErrorKind::PermissionDenied => format!(
            "{name}: permission denied; run as root or lower /proc/sys/kernel/perf_event_paranoid"
        ),
        _ => format!("{name}: {e}"),
    }
}
