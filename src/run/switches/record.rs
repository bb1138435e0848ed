//! The perf_event record layouts the collector reads, parsed by hand from the ring's bytes
//! (perf_event_open(2), "MMAP layout"): context switches and the task records (fork, exit,
//! comm), each followed by the `sample_id` trailer that `sample_id_all` adds.
//!
//! The collector asks for `sample_type = TID | TIME`, so every trailer is `{u32 pid, u32 tid,
//! u64 time}`: 16 bytes at the record's end. Record bytes here exclude the 8-byte header.

/// PERF_RECORD_LOST: `{u64 id, u64 lost}`.
pub const RECORD_LOST: u32 = 2;
/// PERF_RECORD_COMM: `{u32 pid, u32 tid, char comm[]}` (NUL-padded to 8 bytes).
pub const RECORD_COMM: u32 = 3;
/// PERF_RECORD_EXIT: `{u32 pid, ppid, tid, ptid; u64 time}`.
pub const RECORD_EXIT: u32 = 4;
/// PERF_RECORD_FORK: same layout as EXIT.
pub const RECORD_FORK: u32 = 7;
/// PERF_RECORD_SAMPLE: here only from the sched_wakeup tracepoint, with TID | TIME | RAW:
/// `{u32 pid, tid (the waker); u64 time; u32 size; u8 raw[size]}`.
pub const RECORD_SAMPLE: u32 = 9;
/// PERF_RECORD_SWITCH: no body, only the trailer (the task switched in or out).
pub const RECORD_SWITCH: u32 = 14;

/// misc bit of a switch record: the task was switched out (else in).
pub const MISC_SWITCH_OUT: u16 = 1 << 13;
/// misc bit of a switch-out record: the task was still runnable (preempted), not blocked.
pub const MISC_SWITCH_OUT_PREEMPT: u16 = 1 << 14;
/// misc bit of a comm record: the name changed because of an exec.
pub const MISC_COMM_EXEC: u16 = 1 << 13;

/// Size of the `sample_id` trailer for TID | TIME.
const TRAILER: usize = 16;

/// One record, decoded. Times are CLOCK_MONOTONIC nanoseconds (the events use that clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `tid` of process `pid` left a CPU (`out`) or got one; `preempted` only on the way out.
    Switch {
        pid: i32,
        tid: i32,
        time_ns: u64,
        out: bool,
        preempted: bool,
    },
    /// Task `tid` of process `pid` was created by `ptid` of `ppid` (a thread when pid == ppid).
    Fork {
        pid: i32,
        ppid: i32,
        tid: i32,
        ptid: i32,
        time_ns: u64,
    },
    /// Task `tid` of process `pid` exited.
    Exit { pid: i32, tid: i32, time_ns: u64 },
    /// Task `tid` took a new name; `exec` when an exec did it.
    Comm {
        pid: i32,
        tid: i32,
        comm: String,
        exec: bool,
        time_ns: u64,
    },
    /// Task `tid` was woken: from here it waits for a CPU (sched_wakeup).
    Wakeup { tid: i32, time_ns: u64 },
    /// The kernel dropped `lost` records: a ring was full.
    Lost { lost: u64 },
}

impl Record {
    /// The record's time (0 for a loss, which has no meaningful time of its own here).
    pub fn time_ns(&self) -> u64 {
        match self {
            Record::Switch { time_ns, .. }
            | Record::Fork { time_ns, .. }
            | Record::Exit { time_ns, .. }
            | Record::Comm { time_ns, .. }
            | Record::Wakeup { time_ns, .. } => *time_ns,
            Record::Lost { .. } => 0,
        }
    }
}

/// What a record's bytes turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Record(Record),
    /// A record type the collector did not ask for (it ignores it).
    Other,
    /// Too short for its type.
    Bad,
}

/// Decodes one record of type `ty` with header flags `misc` from its body `b`. A sample is a
/// sched_wakeup whose woken pid sits at `wakee_offset` in the raw tracepoint data.
pub fn parse(ty: u32, misc: u16, b: &[u8], wakee_offset: usize) -> Parsed {
    let rec = match ty {
        RECORD_SAMPLE => (b.len() >= 20 + wakee_offset + 4).then(|| Record::Wakeup {
            tid: i32_at(b, 20 + wakee_offset),
            time_ns: u64_at(b, 8),
        }),
        RECORD_SWITCH => trailer(b).map(|(pid, tid, time_ns)| Record::Switch {
            pid,
            tid,
            time_ns,
            out: misc & MISC_SWITCH_OUT != 0,
            preempted: misc & MISC_SWITCH_OUT != 0 && misc & MISC_SWITCH_OUT_PREEMPT != 0,
        }),
        RECORD_FORK | RECORD_EXIT => (b.len() >= 24).then(|| {
            let (pid, ppid, tid, ptid) = (i32_at(b, 0), i32_at(b, 4), i32_at(b, 8), i32_at(b, 12));
            let time_ns = u64_at(b, 16);
            if ty == RECORD_FORK {
                Record::Fork {
                    pid,
                    ppid,
                    tid,
                    ptid,
                    time_ns,
                }
            } else {
                Record::Exit { pid, tid, time_ns }
            }
        }),
        RECORD_COMM => (b.len() >= 8 + TRAILER).then(|| {
            let name = &b[8..b.len() - TRAILER];
            let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            Record::Comm {
                pid: i32_at(b, 0),
                tid: i32_at(b, 4),
                comm: String::from_utf8_lossy(&name[..end]).into_owned(),
                exec: misc & MISC_COMM_EXEC != 0,
                time_ns: u64_at(b, b.len() - 8),
            }
        }),
        RECORD_LOST => (b.len() >= 16).then(|| Record::Lost { lost: u64_at(b, 8) }),
        _ => return Parsed::Other,
    };
    rec.map_or(Parsed::Bad, Parsed::Record)
}

/// (pid, tid, time) from the record's trailer.
fn trailer(b: &[u8]) -> Option<(i32, i32, u64)> {
    let at = b.len().checked_sub(TRAILER)?;
    Some((i32_at(b, at), i32_at(b, at + 4), u64_at(b, at + 8)))
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailer_bytes(pid: i32, tid: i32, time: u64) -> Vec<u8> {
        let mut v = pid.to_ne_bytes().to_vec();
        v.extend(tid.to_ne_bytes());
        v.extend(time.to_ne_bytes());
        v
    }

    #[test]
    fn a_switch_out_says_whether_the_task_was_preempted() {
        let b = trailer_bytes(10, 11, 5_000);
        let preempted = parse(
            RECORD_SWITCH,
            MISC_SWITCH_OUT | MISC_SWITCH_OUT_PREEMPT,
            &b,
            0,
        );
        assert_eq!(
            preempted,
            Parsed::Record(Record::Switch {
                pid: 10,
                tid: 11,
                time_ns: 5_000,
                out: true,
                preempted: true
            })
        );
        let switched_in = parse(RECORD_SWITCH, MISC_SWITCH_OUT_PREEMPT, &b, 0);
        assert!(matches!(
            switched_in,
            Parsed::Record(Record::Switch {
                out: false,
                preempted: false,
                ..
            })
        ));
        assert_eq!(parse(RECORD_SWITCH, 0, &b[..8], 0), Parsed::Bad);
    }

    #[test]
    fn fork_exit_and_comm_records_decode_their_bodies() {
        let mut fork: Vec<u8> = [20i32, 10, 21, 11]
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        fork.extend(7_000u64.to_ne_bytes());
        fork.extend(trailer_bytes(20, 21, 7_000));
        assert_eq!(
            parse(RECORD_FORK, 0, &fork, 0),
            Parsed::Record(Record::Fork {
                pid: 20,
                ppid: 10,
                tid: 21,
                ptid: 11,
                time_ns: 7_000
            })
        );
        assert_eq!(
            parse(RECORD_EXIT, 0, &fork, 0),
            Parsed::Record(Record::Exit {
                pid: 20,
                tid: 21,
                time_ns: 7_000
            })
        );
        let mut comm: Vec<u8> = [20i32, 20].iter().flat_map(|x| x.to_ne_bytes()).collect();
        comm.extend(b"python3\0");
        comm.extend(trailer_bytes(20, 20, 9_000));
        assert_eq!(
            parse(RECORD_COMM, MISC_COMM_EXEC, &comm, 0),
            Parsed::Record(Record::Comm {
                pid: 20,
                tid: 20,
                comm: "python3".into(),
                exec: true,
                time_ns: 9_000
            })
        );
        assert_eq!(parse(99, 0, &comm, 0), Parsed::Other);
    }

    #[test]
    fn a_wakeup_sample_names_the_woken_task_from_the_raw_data() {
        let mut b = trailer_bytes(10, 11, 8_000); // pid, tid of the waker, time
        let mut raw = vec![0u8; 36];
        raw[24..28].copy_from_slice(&42i32.to_ne_bytes());
        b.extend((raw.len() as u32).to_ne_bytes());
        b.extend(&raw);
        assert_eq!(
            parse(RECORD_SAMPLE, 0, &b, 24),
            Parsed::Record(Record::Wakeup {
                tid: 42,
                time_ns: 8_000
            })
        );
        assert_eq!(parse(RECORD_SAMPLE, 0, &b[..30], 24), Parsed::Bad);
    }
}
