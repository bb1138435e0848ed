//! The operational laws and mean value analysis (MVA) of a closed pool: n workers, each cycling
//! through its parallel part (a delay of Z) and one resource that serves one at a time (demand
//! D). They check the replay (`sim.rs`) and turn a measured wait into a service demand.

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

/// The demand D (per unit of delay Z = 1) whose queue takes `share` of each worker's cycle
/// with `n` workers: MVA inverted by bisection. With one worker there is no queueing, so
/// D = share / (1 - share).
pub fn mva_demand_ratio(n: u32, share: f64) -> f64 {
    let share = share.clamp(0.0, 0.999);
    if share <= 0.0 {
        return 0.0;
    }
    let cycle_share = |d: f64| {
        let r = mva_residence(n, d, 1.0);
        r / (r + 1.0)
    };
    let (mut lo, mut hi) = (0.0, share / (1.0 - share));
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if cycle_share(mid) < share {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
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

    #[test]
    fn one_worker_never_queues() {
        assert!((mva_residence(1, 0.25, 1.0) - 0.25).abs() < 1e-12);
        assert!((mva_demand_ratio(1, 0.2) - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_saturated_queue_holds_the_other_workers() {
        // Demand equal to the delay with 4 workers: throughput is capped at 1 / D, so each cycle
        // is n x D long and the queue takes all of it but Z.
        let r = mva_residence(4, 1.0, 1.0);
        assert!(r > 2.5 && r < 3.1, "{r}");
        let d = mva_demand_ratio(4, r / (r + 1.0));
        assert!((d - 1.0).abs() < 1e-6, "{d}");
    }
}
