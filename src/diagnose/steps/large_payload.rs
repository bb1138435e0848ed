//! Are big objects sent between processes? Judged on what moving them cost the workers, the
//! accounting's `transfer` at the largest count the probes measured: their pickling, and their
//! waits on the pool's pipes while the driver worked to feed them (a wait on an empty pipe with
//! the driver idle is the pool's imbalance, not a payload's). The bytes per task (preload and
//! python probes) answer too: a copy into an object store (a Ray argument passed by value)
//! happens in the driver and the store, outside the workers' slots.

use crate::analyze::select::primary_points;
use crate::analyze::Analysis;
use crate::diagnose::deciding::Deciding;
use crate::diagnose::step::{round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{LARGE_PAYLOAD_BYTES_PER_TASK, LARGE_PAYLOAD_TRANSFER_SHARE};
use crate::diagnose::verdict::DataPassing;
use crate::measure::Measurements;

const QUESTION: &str = "Are big objects sent between processes?";

/// What the probes measured at the largest count where they measured anything.
#[derive(Debug, Clone)]
pub struct Figures {
    pub workers: u32,
    /// Bytes through pipes and socket pairs in all.
    pub ipc_bytes: Option<f64>,
    pub ipc_bytes_per_task: Option<f64>,
    /// Share of the tree's CPU spent pickling and unpickling (evidence; not a bar).
    pub ipc_tax: Option<f64>,
    /// Share of the workers' slot-time (n x wall) lost to transfer, from the point's accounting.
    pub transfer_share: Option<f64>,
}

/// None when no probe measured the bytes between processes.
pub fn figures(m: &Measurements, a: &Analysis) -> Option<Figures> {
    primary_points(m, a).into_iter().rev().find_map(|(n, s)| {
        let p = s.probes.as_ref()?;
        (p.ipc_bytes.is_some() || p.ipc_tax.is_some()).then_some(Figures {
            workers: n,
            ipc_bytes: p.ipc_bytes,
            ipc_bytes_per_task: p.ipc_bytes_per_task,
            ipc_tax: p.ipc_tax,
            transfer_share: s.accounting.as_ref().map(|acc| {
                let lost = acc.lost_cores.get("transfer").map_or(0.0, |f| f.value);
                lost / f64::from(acc.workers.max(1))
            }),
        })
    })
}

impl Figures {
    /// Without a task count, a run whose pipes and socket pairs carried less than the bar in
    /// all cannot have carried it per task (a native thread pool shares its data; make and
    /// xargs pass names): that is a measured no.
    fn small_in_all(&self) -> bool {
        self.ipc_bytes_per_task.is_none()
            && self
                .ipc_bytes
                .is_some_and(|b| b < LARGE_PAYLOAD_BYTES_PER_TASK.value)
    }
}

impl Figures {
    /// The figure that decided: the transfer share or the bytes per task, whichever crossed
    /// its bar (the transfer share when neither did), or the bytes in all without a task count.
    pub fn deciding(&self) -> Option<Deciding> {
        let bytes = LARGE_PAYLOAD_BYTES_PER_TASK.value;
        let per_task = self
            .ipc_bytes_per_task
            .map(|b| Deciding::above("ipc_bytes_per_task", b, bytes));
        let transfer = self
            .transfer_share
            .map(|t| Deciding::above("transfer_share", t, LARGE_PAYLOAD_TRANSFER_SHARE.value));
        let in_all = self
            .ipc_bytes
            .filter(|_| self.small_in_all())
            .map(|b| Deciding::above("ipc_bytes", b, bytes));
        [transfer, per_task]
            .into_iter()
            .flatten()
            .find(|d| d.yes_at(d.value))
            .or(transfer)
            .or(per_task)
            .or(in_all)
    }
}

/// Yes on either bar; no when a figure that could have crossed one did not.
pub fn decide(f: Option<&Figures>) -> Answer {
    let Some(f) = f else {
        return Answer::Unknown;
    };
    let big = f
        .ipc_bytes_per_task
        .is_some_and(|b| b >= LARGE_PAYLOAD_BYTES_PER_TASK.value);
    let costly = f
        .transfer_share
        .is_some_and(|t| t >= LARGE_PAYLOAD_TRANSFER_SHARE.value);
    let measured = f.ipc_bytes_per_task.is_some() || f.transfer_share.is_some() || f.small_in_all();
    match (big || costly, measured) {
        (true, _) => Answer::Yes,
        (false, true) => Answer::No,
        (false, false) => Answer::Unknown,
    }
}

/// The leaf: pass references (or shared memory) when payloads are big.
pub fn data_passing(answer: Answer) -> Option<DataPassing> {
    match answer {
        Answer::Yes => Some(DataPassing::ReferencesOrSharedMemory),
        Answer::No => Some(DataPassing::Direct),
        Answer::Unknown => None,
    }
}

fn measured(f: Option<&Figures>) -> Measured {
    let mut out = Measured::default();
    if let Some(f) = f {
        out.put("workers", f.workers);
        out.put("ipc_bytes", f.ipc_bytes);
        out.put("ipc_bytes_per_task", f.ipc_bytes_per_task.map(f64::round));
        out.put("ipc_tax", f.ipc_tax.map(|t| round(t, 4)));
        out.put("transfer_share", f.transfer_share.map(|t| round(t, 4)));
    }
    out
}

fn evidence(f: Option<&Figures>) -> String {
    let Some(f) = f else {
        return "No probe measured the bytes between processes (probes off, or a target they \
                cannot reach)."
            .into();
    };
    let per_task_text = match (f.ipc_bytes_per_task, f.ipc_bytes) {
        (Some(b), _) => format!("{:.0} KiB per task", b / 1024.0),
        (None, Some(total)) if f.small_in_all() => format!(
            "{:.0} KiB in all (task count unknown; under the bar even as one task)",
            total / 1024.0
        ),
        (None, Some(total)) => format!("{:.0} KiB in all (task count unknown)", total / 1024.0),
        (None, None) => "an unmeasured number of bytes (the preload probe did not run)".into(),
    };
    // Pickling is only stated where the python probe saw the tree's interpreters; `+ 0.0`
    // keeps a rounded zero from printing as "-0.0".
    let transfer = f.transfer_share.map_or_else(
        || " No accounting of the workers' time (no sampler picture of them).".to_string(),
        |t| {
            format!(
                " Moving it cost the workers {:.1} % of their time (accounting: pickling, and \
                 waits on the pool's pipes while the driver fed them).",
                (t * 100.0).max(0.0) + 0.0
            )
        },
    );
    format!(
        "At {} workers the processes exchanged {per_task_text}{}.{transfer}",
        f.workers,
        f.ipc_tax
            .map(|t| format!(
                ", and pickling took {:.1} % of the tree's CPU",
                (t * 100.0).max(0.0) + 0.0
            ))
            .unwrap_or_else(|| {
                ", with no pickling measured (the python probe saw no interpreter)".into()
            })
    )
}

pub fn step(f: Option<&Figures>, answer: Answer) -> Step {
    let words = Words {
        threshold: format!(
            "transfer >= {:.0} % of the workers' time, or >= {} MiB per task -> yes",
            LARGE_PAYLOAD_TRANSFER_SHARE.value * 100.0,
            LARGE_PAYLOAD_BYTES_PER_TASK.value / 1048576.0
        ),
        evidence: evidence(f),
        source: "accounting (transfer: pickling and fed waits on the pool's pipes), preload \
                 probe (bytes through pipes and socket pairs) and python probe (tasks, pickling \
                 time)"
            .into(),
    };
    Step::new(StepId::LargePayload, QUESTION, answer, measured(f), words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(total: Option<f64>, per_task: Option<f64>, transfer: Option<f64>) -> Figures {
        Figures {
            workers: 4,
            ipc_bytes: total,
            ipc_bytes_per_task: per_task,
            ipc_tax: None,
            transfer_share: transfer,
        }
    }

    #[test]
    fn either_bar_says_yes_and_a_small_total_without_a_task_count_says_no() {
        let mib = LARGE_PAYLOAD_BYTES_PER_TASK.value;
        assert_eq!(decide(Some(&probed(None, Some(mib), None))), Answer::Yes);
        assert_eq!(decide(Some(&probed(None, None, Some(0.2)))), Answer::Yes);
        assert_eq!(
            decide(Some(&probed(Some(mib / 2.0), None, None))),
            Answer::No
        );
        assert_eq!(
            decide(Some(&probed(Some(mib * 8.0), None, None))),
            Answer::Unknown
        );
        assert_eq!(decide(None), Answer::Unknown);
        assert_eq!(data_passing(Answer::Unknown), None);
    }

    #[test]
    fn the_transfer_the_workers_lost_decides_not_the_pickling_share_of_the_tree() {
        let bar = LARGE_PAYLOAD_TRANSFER_SHARE.value;
        // Small messages whose pickling is a large share of a tree that does little else: the
        // workers lost almost nothing moving them.
        let mut f = probed(Some(13_000.0), Some(33.0), Some(0.001));
        f.ipc_tax = Some(0.3);
        assert_eq!(decide(Some(&f)), Answer::No);
        let d = f.deciding().expect("a deciding figure");
        assert_eq!((d.name, d.value, d.bar), ("transfer_share", 0.001, bar));
        // The workers lost a sixth of their time to it: yes, on the transfer share.
        let f = probed(Some(2.4e8), Some(600_000.0), Some(0.16));
        assert_eq!(decide(Some(&f)), Answer::Yes);
        assert_eq!(f.deciding().map(|d| d.name), Some("transfer_share"));
    }
}
