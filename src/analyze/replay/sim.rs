//! The discrete-event replay: n workers on c cores take the tasks as the pool deals them; each
//! task runs its parallel part on a CPU (the cores shared evenly when more workers want one
//! than there are), then queues for each serial resource it uses (first come, first served).
//! The GIL's service runs on a CPU too; a sink's runs outside the host, after the share of the
//! task the worker does while holding the sink's lock (`Resource::held_share`), on a CPU.

use super::workload::{Dispatch, Workload};
use std::collections::VecDeque;

/// A task's remaining step.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Cpu(f64),
    /// Waiting for or served by resource r, with this much service left: on a CPU (the GIL's,
    /// the work done holding a lock), then outside the host (a sink's).
    Resource(usize, f64, f64),
    /// Asleep in resource r's busy handler, this long yet, after finding it taken.
    Backoff(usize, f64),
    Done,
}

/// SQLite's busy handler (`sqliteDefaultBusyCallback`): the sleeps, milliseconds, between a
/// writer's tries for a lock that is taken; the last repeats.
const BUSY_DELAYS_MS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 25.0, 25.0, 50.0, 50.0, 100.0,
];

fn busy_delay_s(tries: usize) -> f64 {
    BUSY_DELAYS_MS[tries.min(BUSY_DELAYS_MS.len() - 1)] * 1e-3
}

/// Whether a sleeper's try finds the lock taken. Its tries land at moments out of step with
/// the other writers' work (the sleeps are 1, 2, 5 ms ..., their tasks whatever they are, and
/// neither is exact), so a try finds the lock held with the probability it was held while the
/// writer slept, not as the replay's exact periods happen to line up this instant: replayed
/// that way, two writers holding a 0.3 ms commit in each 0.73 ms task fell into step, and one
/// collision cost ~1 ms where the run measured 4.3 ms (sqlite_pool_commit: 77 collisions, 42
/// of one sleep, 26 of two, 9 of three to six), so the replay gave 1.5x for a measured 0.9x.
/// The same holds for its first arrival at the lock, judged over its task so far. Where the
/// replay has the lock free at a try that finds it taken, the writer sleeps all the same; held
/// at a try that finds it free, it waits for the release. `draw` is the try's uniform number.
fn finds_it_taken(held_while_asleep: f64, draw: f64) -> bool {
    draw < held_while_asleep.clamp(0.0, 1.0)
}

/// The share of the time since `since` (when, the lock's held seconds then) the lock was
/// held. A writer that goes for it at once (a transaction around its whole task) meets it as
/// it is at that instant: held while anyone is at its queue.
fn held_since(since: (f64, f64), held_now: f64, now: f64, queue: &VecDeque<usize>) -> f64 {
    let (t0, held0) = since;
    if now - t0 > DONE {
        (held_now - held0) / (now - t0)
    } else {
        f64::from(u8::from(!queue.is_empty()))
    }
}

/// The k-th number of the golden-ratio sequence in 0..1: evenly spread draws, and the same
/// ones in every replay of a workload.
fn draw(k: u64) -> f64 {
    (0.5 + k as f64 * 0.618_033_988_749_894_8).fract()
}

struct Worker {
    /// Tasks dealt to it and not started, in order.
    queue: std::collections::VecDeque<usize>,
    task: Option<usize>,
    phase: Phase,
    /// Tries so far for the lock it sleeps on.
    tries: usize,
    /// When its task or its latest sleep began, and the lock's held seconds (`busy_s`) then:
    /// the window its next try at the lock is judged over.
    since: (f64, f64),
}

/// A remainder this small is done (rounding in the steps' subtractions).
const DONE: f64 = 1e-12;

/// Whether a worker in this phase wants a CPU while at the head of a resource's queue.
fn on_a_cpu(phase: Phase) -> bool {
    matches!(phase, Phase::Resource(_, cpu, _) if cpu > DONE)
}

/// The replay's answer: the parallel part's length, seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub makespan_s: f64,
    /// Per resource, the workers' seconds at it: queued and served.
    pub residence_s: Vec<f64>,
    /// Per resource, the seconds of that residence spent working on a CPU while holding it.
    pub held_s: Vec<f64>,
    /// Per resource, the seconds some worker held it (served or working while holding it).
    pub busy_s: Vec<f64>,
    /// The workers' seconds runnable without a CPU.
    pub run_queue_s: f64,
    /// Seconds the driver spent handling the tasks' messages beside the workers
    /// (`Workload::driver_per_task_s`).
    pub driver_busy_s: f64,
}

/// Replays the tasks of `w` on `workers` workers and `cores` cores, with each serial resource's
/// demand scaled by `demand_scale` (per resource, same order) and the tasks by `work_scale`.
pub fn replay(
    w: &Workload,
    workers: u32,
    cores: u32,
    work_scale: f64,
    demand_scale: &[f64],
) -> Replayed {
    // A worker past the task count never gets a task and costs nothing, so it is not
    // simulated: a measured count out of all proportion (a corrupt report) cannot make the
    // replay allocate a worker per count.
    let n = (workers.max(1) as usize).min(w.tasks.len().max(1));
    let c = f64::from(cores.max(1));
    let total: f64 = w.tasks.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let demand: Vec<f64> = w
        .resources
        .iter()
        .zip(demand_scale.iter().chain(std::iter::repeat(&1.0)))
        .map(|(r, s)| r.demand_s * s)
        .collect();
    let on_cpu: Vec<bool> = w.resources.iter().map(|r| r.bound == "gil").collect();
    // Per task: the share of its CPU part done holding each resource (out of its free part).
    let held: Vec<f64> = w.resources.iter().map(|r| r.held_share).collect();
    let held_total: f64 = held.iter().sum::<f64>().min(1.0);
    // Per task: its share of each resource; the GIL's share comes out of its CPU part.
    let gil_share: f64 = w
        .resources
        .iter()
        .zip(&demand)
        .filter(|(r, _)| r.bound == "gil")
        .map(|(_, d)| d / (total * work_scale))
        .sum::<f64>()
        .min(1.0);
    let mut next = 0usize;
    let deal = |next: &mut usize| -> std::ops::Range<usize> {
        let k = match w.dispatch {
            Dispatch::Chunks(k) => k.max(1),
            Dispatch::OnDemand | Dispatch::Waves => 1,
        };
        let end = (*next + k).min(w.tasks.len());
        let out = *next..end;
        *next = end;
        out
    };
    let mut ws: Vec<Worker> = (0..n)
        .map(|_| Worker {
            queue: Default::default(),
            task: None,
            phase: Phase::Done,
            tries: 0,
            since: (0.0, 0.0),
        })
        .collect();
    let mut fifo: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); demand.len()];
    let waves = w.dispatch == Dispatch::Waves;
    let start = |wk: &mut Worker, next: &mut usize| {
        if wk.queue.is_empty() && !(waves && wk.task.is_some()) {
            wk.queue.extend(deal(next));
        }
        match wk.queue.pop_front() {
            Some(t) => {
                wk.task = Some(t);
                let free = (1.0 - gil_share - held_total).max(0.0);
                wk.phase = Phase::Cpu(w.tasks[t] * work_scale * free);
            }
            None => {
                wk.task = None;
                wk.phase = Phase::Done;
            }
        }
    };
    for wk in ws.iter_mut() {
        start(wk, &mut next);
    }
    // Resource r taken by worker i: the GIL's service is CPU; a sink's is outside, after the
    // work done holding it.
    let enter = |i: usize, r: usize, ws: &[Worker]| {
        let t = ws[i].task.unwrap_or(0);
        let share = w.tasks[t] / total;
        if on_cpu[r] {
            Phase::Resource(r, demand[r] * share, 0.0)
        } else {
            Phase::Resource(r, held[r] * w.tasks[t] * work_scale, demand[r] * share)
        }
    };
    let sleeps: Vec<bool> = w
        .resources
        .iter()
        .map(|r| w.busy_handler && r.bound == super::workload::SQLITE)
        .collect();
    let sleeping_lock = sleeps.iter().position(|&x| x);
    let mut now = 0.0;
    let mut residence = vec![0.0; demand.len()];
    let mut held_s = vec![0.0; demand.len()];
    let mut busy_s = vec![0.0; demand.len()];
    let mut run_queue = 0.0;
    // The workers whose step ended this event, with the resource it ended at (0: the CPU
    // part). One buffer for the whole replay, and tasks dealt as a range: the model's
    // calibration replays a workload thirty times per resource, and an allocation per event
    // and per task was a third of lab 01's analysis (examples/analysis_cost.rs: 4.2 -> 2.9 ms).
    let mut finished: Vec<(usize, usize)> = Vec::new();
    // The driver's backlog of message handling: CPU seconds, served one message at a time
    // beside the workers, who do not wait for it (the pool's pipes hold the messages).
    let mut driver_left = 0.0;
    let mut driver_busy = 0.0;
    // Busy-handler tries so far: the index of the next draw.
    let mut tries = 0u64;
    loop {
        let workers_running = ws
            .iter()
            .filter(|x| matches!(x.phase, Phase::Cpu(_)))
            .count()
            + fifo
                .iter()
                .filter(|q| q.front().is_some_and(|&h| on_a_cpu(ws[h].phase)))
                .count();
        let driving = driver_left > DONE;
        let running = workers_running + usize::from(driving);
        if ws.iter().all(|x| x.phase == Phase::Done) {
            if waves && next < w.tasks.len() {
                for wk in ws.iter_mut() {
                    wk.task = None;
                    start(wk, &mut next);
                    wk.since = (now, sleeping_lock.map_or(0.0, |r| busy_s[r]));
                }
                continue;
            }
            if !driving {
                break;
            }
        }
        let rate = if running == 0 {
            1.0
        } else {
            (c / (running as f64 + w.background_cores)).min(1.0)
        };
        let mut dt = f64::INFINITY;
        for x in &ws {
            if let Phase::Cpu(left) = x.phase {
                dt = dt.min(left / rate);
            }
        }
        for q in &fifo {
            if let Some(&head) = q.front() {
                if let Phase::Resource(_, cpu, out) = ws[head].phase {
                    dt = dt.min(if cpu > DONE { cpu / rate } else { out });
                }
            }
        }
        for x in &ws {
            if let Phase::Backoff(_, left) = x.phase {
                dt = dt.min(left);
            }
        }
        if driving {
            dt = dt.min(driver_left / rate);
        }
        if !dt.is_finite() {
            break;
        }
        now += dt;
        run_queue += dt * workers_running as f64 * (1.0 - rate);
        if driving {
            driver_left -= dt * rate;
            driver_busy += dt;
        }
        let mut woken = Vec::new();
        for (i, x) in ws.iter_mut().enumerate() {
            match x.phase {
                Phase::Resource(r, _, _) => residence[r] += dt,
                Phase::Backoff(r, left) => {
                    residence[r] += dt;
                    x.phase = Phase::Backoff(r, left - dt);
                    if left - dt <= DONE {
                        woken.push((i, r));
                    }
                }
                _ => {}
            }
        }
        finished.clear();
        for (i, x) in ws.iter_mut().enumerate() {
            if let Phase::Cpu(left) = x.phase {
                let left = left - dt * rate;
                x.phase = Phase::Cpu(left);
                if left <= DONE {
                    finished.push((i, 0usize));
                }
            }
        }
        for (r, q) in fifo.iter().enumerate() {
            if let Some(&head) = q.front() {
                if let Phase::Resource(rr, cpu, out) = ws[head].phase {
                    busy_s[r] += dt;
                    let (cpu, out) = if cpu > DONE {
                        if !on_cpu[r] {
                            held_s[r] += dt;
                        }
                        (cpu - dt * rate, out)
                    } else {
                        (cpu, out - dt)
                    };
                    ws[head].phase = Phase::Resource(rr, cpu, out);
                    if cpu <= DONE && out <= DONE {
                        finished.push((head, r + 1));
                    }
                }
            }
        }
        for &(i, from) in &finished {
            if from > 0 {
                fifo[from - 1].pop_front();
            }
            // The next resource this task uses, after the one it finished.
            let t = ws[i].task.unwrap_or(0);
            let share = w.tasks[t] / total;
            let next_r = (from..demand.len()).find(|&r| demand[r] * share > 0.0 || held[r] > 0.0);
            match next_r {
                // Its arrival, like its tries, is out of step with the other writers.
                Some(r)
                    if sleeps[r] && {
                        tries += 1;
                        finds_it_taken(
                            held_since(ws[i].since, busy_s[r], now, &fifo[r]),
                            draw(tries),
                        )
                    } =>
                {
                    ws[i].tries = 0;
                    ws[i].since = (now, busy_s[r]);
                    ws[i].phase = Phase::Backoff(r, busy_delay_s(0));
                }
                Some(r) => {
                    ws[i].phase = enter(i, r, &ws);
                    fifo[r].push_back(i);
                }
                None => {
                    driver_left += w.driver_per_task_s;
                    start(&mut ws[i], &mut next);
                    ws[i].since = (now, sleeping_lock.map_or(0.0, |r| busy_s[r]));
                }
            }
        }
        // A sleeper tries again: taken, it sleeps the next delay; free, it takes the lock, or
        // where the replay has it held this instant, the holder's release.
        for (i, r) in woken {
            tries += 1;
            if finds_it_taken(
                held_since(ws[i].since, busy_s[r], now, &fifo[r]),
                draw(tries),
            ) {
                ws[i].tries += 1;
                ws[i].since = (now, busy_s[r]);
                ws[i].phase = Phase::Backoff(r, busy_delay_s(ws[i].tries));
            } else {
                ws[i].phase = enter(i, r, &ws);
                fifo[r].push_back(i);
            }
        }
    }
    Replayed {
        makespan_s: now,
        residence_s: residence,
        held_s,
        busy_s,
        run_queue_s: run_queue,
        driver_busy_s: driver_busy,
    }
}

#[cfg(test)]
mod tests {
    use super::{draw, finds_it_taken};

    #[test]
    fn a_try_finds_the_lock_taken_as_often_as_it_was_held_while_the_writer_slept() {
        let share = |held: f64| {
            (1..=1000)
                .filter(|&k| finds_it_taken(held, draw(k)))
                .count() as f64
                / 1000.0
        };
        assert_eq!(share(0.0), 0.0);
        assert_eq!(share(1.0), 1.0);
        assert!((share(0.41) - 0.41).abs() < 0.005, "{}", share(0.41));
    }
}
