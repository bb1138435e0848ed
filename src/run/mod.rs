//! Running the target: the platform edge (processes, procfs, perf_event, injected probes).

pub mod probes;
