//! "Past this host": what the replayed curve (`scaling.predicted`) says about more cores than
//! this host has, as findings. A curve held at 2 x the cores by a serial resource (the GIL, a
//! sink, the driver) says that neither more cores nor more machines lift it, and which fix
//! would. A curve still rising there, on cores alone, is the "bigger machine or a cluster"
//! finding (cluster.rs) when memory holds more workers than cores, and says what memory
//! allows when it does not.

use super::cluster::{self, Cluster};
use super::thresholds::PAST_HOST_STILL_RISING;
use super::what_if::WhatIf;
use crate::analyze::replay::Predicted;
use crate::analyze::select::primary_points;
use crate::analyze::{parallel_cores, Analysis};
use crate::measure::Measurements;

/// The findings in words, and the cluster finding where it applies.
pub struct PastHost {
    pub findings: Vec<String>,
    pub cluster: Option<Cluster>,
}

/// Reads the primary series' predicted curve at the cores, 2 x and 4 x them.
pub fn read(m: &Measurements, a: &Analysis, what_if: &[WhatIf]) -> PastHost {
    let none = || PastHost {
        findings: Vec::new(),
        cluster: None,
    };
    let Some(s) = a.primary.map(|p| &a.series[p]) else {
        return none();
    };
    let c = parallel_cores(&m.host);
    let at = |n: u32| s.scaling.predicted.iter().find(|p| p.workers == n);
    let (Some(here), Some(two), Some(four)) =
        (at(c), at(c.saturating_mul(2)), at(c.saturating_mul(4)))
    else {
        return none();
    };
    // Rising past the cores, and past one worker too: a curve under 1× at the cores rises
    // only when more cores beat a single worker.
    let rising = two.speedup >= PAST_HOST_STILL_RISING.value * here.speedup.max(1.0);
    if let Some(fix) = serial_fix(two, what_if) {
        let curve = format!(
            "{:.2}× at {c} cores, {:.2}× at {}, {:.2}× at {}",
            here.speedup, two.speedup, two.cores, four.speedup, four.cores
        );
        let text = if rising {
            format!(
                "at {} workers the replayed curve is held by {} ({curve}): more cores buy only \
                 what that bound leaves, and more machines do not lift it; {fix}",
                two.workers, two.bound
            )
        } else {
            format!(
                "at {} workers the replayed curve is held by {}: more cores will not help, nor \
                 more machines ({curve}); {fix}",
                two.workers, two.bound
            )
        };
        return PastHost {
            findings: vec![text],
            cluster: None,
        };
    }
    if !rising {
        return none();
    }
    let rises = format!(
        "past this host's {c} cores the replayed curve still rises: {} cores give {:.2}× \
         ({:.2}–{:.2}, bound: {}), {} cores {:.2}× ({:.2}–{:.2}, bound: {})",
        two.cores,
        two.speedup,
        two.low,
        two.high,
        two.bound,
        four.cores,
        four.speedup,
        four.low,
        four.high,
        four.bound
    );
    let Some((_, point)) = primary_points(m, a).into_iter().last() else {
        return none();
    };
    let inputs = cluster::Inputs {
        host_cores: c,
        available_memory_bytes: m.host.available_memory_bytes,
        point,
    };
    let curve = [here.clone(), two.clone(), four.clone()];
    match cluster::read(&inputs, &curve) {
        Some(k) => PastHost {
            findings: vec![format!(
                "{rises}; a bigger machine or a cluster would pay: {}. {}; {}. forkcast \
                 measured this host only: the curve past it is replayed, and a cluster's \
                 network is priced, not measured.",
                memory_words(&k),
                k.engine_words(),
                k.network_words()
            )],
            cluster: Some(k),
        },
        None => PastHost {
            findings: vec![format!(
                "{rises}; {}",
                short_of_memory(point.pss_bytes_per_worker, &inputs)
            )],
            cluster: None,
        },
    }
}

/// Why the cluster finding was not given though the curve rises: memory.
fn short_of_memory(pss: Option<f64>, i: &cluster::Inputs) -> String {
    match cluster::workers_memory_holds(i.available_memory_bytes, pss) {
        Some(n) => format!(
            "but at {} per worker (PSS, procfs) the memory available here holds {n} workers, \
             no more than the {} cores: a bigger machine needs more memory per core, and a \
             cluster more machines like this one",
            cluster::bytes_words(pss.unwrap_or(0.0)),
            i.host_cores
        ),
        None => "a bigger machine would pay; the memory per worker was not measured (no PSS), \
                 so whether more workers than cores fit is unknown"
            .into(),
    }
}

fn memory_words(k: &Cluster) -> String {
    format!(
        "at {} per worker (PSS, procfs) the {} available here (host) hold {} workers, more than \
         the {} cores",
        cluster::bytes_words(k.pss_bytes_per_worker),
        cluster::bytes_words(k.available_memory_bytes as f64),
        k.workers_memory_holds,
        k.host_cores
    )
}

/// The fix that lifts a serial bound, with its replayed worth where the diagnosis has it;
/// None when the bound is not a serial resource.
fn serial_fix(p: &Predicted, what_if: &[WhatIf]) -> Option<String> {
    let (field, words) = match p.bound.as_str() {
        "gil" => ("model", "processes (no GIL) would"),
        "driver" => (
            "data_passing",
            "passing references instead of data, or fewer and bigger results, would",
        ),
        b if b.starts_with("sink:") => ("sink", "one batched writer would"),
        _ => return None,
    };
    let worth = what_if
        .iter()
        .find(|w| w.field == field)
        .map(|w| format!(" ({:.2}× at {} workers, replayed)", w.speedup, w.workers))
        .unwrap_or_default();
    Some(format!("{words}{worth}"))
}
