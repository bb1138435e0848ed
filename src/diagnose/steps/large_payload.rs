//! Are big objects sent between processes? At the largest count the probes measured, from the
//! bytes per task (preload and python probes) and what moving them cost the workers: the
//! accounting's `transfer`, their pickling and their waits on the pool's pipes while the driver
//! worked to feed them (a wait on an empty pipe with the driver idle is the pool's imbalance).
//! A mebibyte a task is big whatever the slots show: a copy into an object store (a Ray
//! argument passed by value) happens in the driver and the store, outside them. Messages a pipe
//! holds whole are not payloads, however long the workers waited on them. In between, the
//! transfer share decides.

use crate::analyze::select::primary_points;
use crate::analyze::Analysis;
use crate::diagnose::deciding::Deciding;
use crate::diagnose::step::{round, Measured, Step, Words};
use crate::diagnose::step::{Answer, StepId};
use crate::diagnose::thresholds::{
    LARGE_PAYLOAD_BYTES_PER_TASK, LARGE_PAYLOAD_PIPE_BYTES, LARGE_PAYLOAD_TRANSFER_SHARE,
};
use crate::diagnose::verdict::DataPassing;
use crate::measure::Measurements;
use crate::units::human_bytes;

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
                let lost = acc.lost("transfer");
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
    /// Payloads bigger than a pipe holds: sending one blocks on its receiver, so its bytes,
    /// not the count of messages, are what the workers' transfer pays for. Unknown without a
    /// task count.
    fn pipefuls(&self) -> Option<bool> {
        self.ipc_bytes_per_task
            .map(|b| b >= LARGE_PAYLOAD_PIPE_BYTES.value)
    }

    /// A mebibyte or more per task: big whatever the slots show (a copy into an object store
    /// happens in the driver and the store, outside them).
    fn big(&self) -> bool {
        self.ipc_bytes_per_task
            .is_some_and(|b| b >= LARGE_PAYLOAD_BYTES_PER_TASK.value)
    }

    /// The figure that decided: the bytes per task where they settle it (a mebibyte or more;
    /// or less than a pipe holds), else the transfer share the workers lost; the bytes in all
    /// without a task count.
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
        match (self.big(), self.pipefuls()) {
            (false, Some(true)) => transfer.or(per_task),
            _ => per_task.or(in_all),
        }
    }
}

/// Yes when the payloads are a mebibyte or more per task, or bigger than a pipe holds and
/// moving them cost the workers a tenth of their time; no when the figures that could say so
/// were measured and did not.
///
/// Below a pipe's capacity a message moves in one write, and a worker's waits on the pool's
/// pipes are the driver's handling of each message (bigger chunks cut them, references do
/// not): a large transfer share of small messages is not a payload.
pub fn decide(f: Option<&Figures>) -> Answer {
    let Some(f) = f else {
        return Answer::Unknown;
    };
    let costly = f
        .transfer_share
        .map(|t| t >= LARGE_PAYLOAD_TRANSFER_SHARE.value);
    match (f.big(), f.pipefuls(), costly) {
        (true, _, _) => Answer::Yes,
        (false, Some(true), Some(true)) => Answer::Yes,
        (false, Some(true), Some(false)) | (false, Some(false), _) => Answer::No,
        (false, Some(true), None) => Answer::Unknown,
        (false, None, _) if f.small_in_all() => Answer::No,
        (false, None, _) => Answer::Unknown,
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
        (Some(b), _) => format!("{} per task", human_bytes(b)),
        (None, Some(total)) if f.small_in_all() => format!(
            "{} in all (task count unknown; under the bar even as one task)",
            human_bytes(total)
        ),
        (None, Some(total)) => format!("{} in all (task count unknown)", human_bytes(total)),
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
            ">= {} MiB per task, or over {} KiB per task with transfer >= {:.0} % of the \
             workers' time -> yes",
            LARGE_PAYLOAD_BYTES_PER_TASK.value / 1048576.0,
            LARGE_PAYLOAD_PIPE_BYTES.value / 1024.0,
            LARGE_PAYLOAD_TRANSFER_SHARE.value * 100.0
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
    fn a_mebibyte_a_task_says_yes_and_a_small_total_without_a_task_count_says_no() {
        let mib = LARGE_PAYLOAD_BYTES_PER_TASK.value;
        assert_eq!(
            decide(Some(&probed(None, Some(mib), Some(0.0)))),
            Answer::Yes
        );
        assert_eq!(
            decide(Some(&probed(Some(mib / 2.0), None, None))),
            Answer::No
        );
        assert_eq!(
            decide(Some(&probed(Some(mib * 8.0), None, Some(0.3)))),
            Answer::Unknown
        );
        assert_eq!(decide(None), Answer::Unknown);
        assert_eq!(data_passing(Answer::Unknown), None);
    }

    #[test]
    fn between_a_pipeful_and_a_mebibyte_the_transfer_the_workers_lost_decides() {
        let bar = LARGE_PAYLOAD_TRANSFER_SHARE.value;
        let mid = 4.0 * LARGE_PAYLOAD_PIPE_BYTES.value;
        let f = probed(Some(mid * 400.0), Some(mid), Some(0.16));
        assert_eq!(decide(Some(&f)), Answer::Yes);
        let d = f.deciding().expect("a deciding figure");
        assert_eq!((d.name, d.value, d.bar), ("transfer_share", 0.16, bar));
        let f = probed(Some(mid * 400.0), Some(mid), Some(0.02));
        assert_eq!(decide(Some(&f)), Answer::No);
        assert_eq!(
            decide(Some(&probed(None, Some(mid), None))),
            Answer::Unknown
        );
    }

    #[test]
    fn small_messages_are_no_payload_however_long_the_workers_waited_on_them() {
        // 300 bytes a task and a third of the workers' time on the pipes: the driver's
        // handling of each message, which bigger chunks cut and references would not.
        let mut f = probed(Some(300.0 * 400.0), Some(300.0), Some(0.32));
        f.ipc_tax = Some(0.3);
        assert_eq!(decide(Some(&f)), Answer::No);
        assert_eq!(f.deciding().map(|d| d.name), Some("ipc_bytes_per_task"));
    }
}
