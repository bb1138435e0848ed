//! The operational laws and mean value analysis (MVA) of a closed pool: n workers, each cycling
//! through its parallel part (a delay of Z) and one resource that serves one at a time (demand
//! D). The laws bound the replay (`sim.rs`) and name its bound; MVA, which takes service times
//! as exponential, gives the most queueing the replay's fixed service times can show.

/// Mean value analysis, one queue and one delay: the time a cycle spends at the queue
/// (waiting and served) with `n` workers, demand `d` and delay `z`.
pub fn mva_residence(n: u32, d: f64, z: f64) -> f64 {
    let mut q = 0.0;
    let mut r = d;
    for k in 1..=n.max(1) {
        r = d * (1.0 + q);
        let x = f64::from(k) / (r + z);
        q = x * r;
    }
    r
}

/// The shortest the parallel part of a run can take (the operational laws): no less than the
/// largest demand on one serial resource, no less than the total work over the workers, nor
/// over the cores, nor than the longest single task.
pub fn makespan_floor(
    total_work_s: f64,
    max_demand_s: f64,
    longest_task_s: f64,
    workers: u32,
    cores: u32,
) -> f64 {
    let busy = f64::from(workers.min(cores).max(1));
    (total_work_s / busy).max(max_demand_s).max(longest_task_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::replay::model::{Resource, Workload};

    #[test]
    fn one_worker_never_queues() {
        assert!((mva_residence(1, 0.25, 1.0) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn the_replay_lies_between_mean_value_analysis_and_the_laws() {
        // 4 workers, each task 10 ms of CPU then 5 ms on a sink, 400 tasks, 8 cores.
        let w = Workload {
            measured_workers: 4,
            resources: vec![Resource {
                bound: "sink:x".into(),
                demand_s: 2.0,
                held_share: 0.0,
            }],
            ..Workload::of_tasks(vec![0.01; 400])
        };
        for n in [1, 2, 3, 4] {
            let replayed = crate::analyze::replay::sim::replay(&w, n, 8, 1.0, &[]).makespan_s;
            let floor = makespan_floor(4.0, 2.0, 0.01, n, 8);
            // MVA per task: Z = 10 ms, D = 5 ms; 400 tasks at its throughput.
            let r = mva_residence(n, 0.005, 0.01);
            let mva = 400.0 * (r + 0.01) / f64::from(n);
            assert!(replayed >= floor - 1e-9, "{n}: {replayed} < floor {floor}");
            assert!(replayed <= mva + 0.02, "{n}: {replayed} > MVA {mva}");
        }
    }
}
