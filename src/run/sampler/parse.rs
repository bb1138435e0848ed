//! Parsers for the procfs files the sampler reads: pure functions over bytes, no allocation on
//! the per-thread hot path (stat, schedstat).

use crate::measure::IoCounters;

/// The fields of /proc/PID/task/TID/stat the sampler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat<'a> {
    /// Command name, without the parentheses (may contain spaces and ')').
    pub comm: &'a [u8],
    /// State letter: R running or runnable, S sleeping, D uninterruptible, Z zombie, T stopped, ...
    pub state: u8,
    pub ppid: i32,
    pub pgrp: i32,
    /// Start time after boot, in clock ticks (USER_HZ).
    pub starttime_ticks: u64,
}

/// Parses a stat line; None when it is malformed.
pub(super) fn parse_stat(buf: &[u8]) -> Option<Stat<'_>> {
    let open = buf.iter().position(|&b| b == b'(')?;
    // comm can itself contain ')', so the last one closes it.
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let comm = &buf[open + 1..close];
    let mut fields = buf.get(close + 2..)?.split(|&b| b == b' ');
    let state = *fields.next()?.first()?;
    let ppid = parse_i64(fields.next()?)? as i32;
    let pgrp = parse_i64(fields.next()?)? as i32;
    // Skip fields 6..=21 (session .. itrealvalue): 16 fields; starttime is field 22.
    let starttime_ticks = parse_u64(fields.nth(16)?)?;
    Some(Stat {
        comm,
        state,
        ppid,
        pgrp,
        starttime_ticks,
    })
}

/// /proc/PID/task/TID/schedstat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SchedStat {
    /// Time on a CPU (sum_exec_runtime), in nanoseconds.
    pub exec_ns: u64,
    /// Time runnable but waiting in a run queue (run_delay), in nanoseconds.
    pub delay_ns: u64,
    /// Times the task was switched onto a CPU.
    pub pcount: u64,
}

/// Parses "exec_ns run_delay_ns pcount".
pub(super) fn parse_schedstat(buf: &[u8]) -> Option<SchedStat> {
    let mut it = buf
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty());
    Some(SchedStat {
        exec_ns: parse_u64(it.next()?)?,
        delay_ns: parse_u64(it.next()?)?,
        pcount: parse_u64(it.next()?)?,
    })
}

/// Parses /proc/PID/io ("rchar: 123" lines).
pub(super) fn parse_io(buf: &[u8]) -> Option<IoCounters> {
    let mut io = IoCounters::default();
    let mut found = 0;
    for line in buf.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = parse_u64(trim(&line[colon + 1..]));
        let slot = match &line[..colon] {
            b"rchar" => &mut io.rchar,
            b"wchar" => &mut io.wchar,
            b"syscr" => &mut io.syscr,
            b"syscw" => &mut io.syscw,
            b"read_bytes" => &mut io.read_bytes,
            b"write_bytes" => &mut io.write_bytes,
            _ => continue,
        };
        *slot = value?;
        found += 1;
    }
    (found > 0).then_some(io)
}

/// Proportional set size from /proc/PID/smaps_rollup, in bytes.
pub(super) fn parse_pss_bytes(buf: &[u8]) -> Option<u64> {
    buf.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(b"Pss:")?;
        let kib = trim(rest).strip_suffix(b"kB").map(trim)?;
        parse_u64(kib).map(|k| k * 1024)
    })
}

/// Splits /proc/PID/cmdline at NULs (lossy UTF-8).
pub(super) fn parse_cmdline(buf: &[u8]) -> Vec<String> {
    let body = buf.strip_suffix(b"\0").unwrap_or(buf);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Trims ASCII whitespace at both ends.
pub(super) fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Parses an unsigned decimal.
pub(super) fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit()
            .then(|| acc.wrapping_mul(10).wrapping_add(u64::from(c - b'0')))
    })
}

/// Parses a signed decimal.
pub(super) fn parse_i64(b: &[u8]) -> Option<i64> {
    match b.split_first()? {
        (b'-', rest) => parse_u64(rest).map(|v| -(v as i64)),
        _ => parse_u64(b).map(|v| v as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let line = b"4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 15 0 0 0 24 62 0 0 20 0 3 0 5216 866 10 \n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.comm, b"a) b (c)");
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 17);
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.starttime_ticks, 5216);
    }

    #[test]
    fn real_stat_of_self() {
        let buf = std::fs::read("/proc/thread-self/stat").unwrap();
        let s = parse_stat(&buf).unwrap();
        assert_eq!(s.state, b'R');
        assert_eq!(s.ppid, std::os::unix::process::parent_id() as i32);
        assert!(s.starttime_ticks > 0);
    }

    #[test]
    fn schedstat_and_io() {
        let s = parse_schedstat(b"166191456 5609975 372\n").unwrap();
        assert_eq!((s.exec_ns, s.delay_ns, s.pcount), (166191456, 5609975, 372));
        let io = parse_io(b"rchar: 6976\nwchar: 5\nsyscr: 7\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 0\ncancelled_write_bytes: 0\n").unwrap();
        assert_eq!(
            (io.rchar, io.wchar, io.syscr, io.read_bytes),
            (6976, 5, 7, 4096)
        );
        assert!(parse_schedstat(b"12 x 3").is_none());
    }

    #[test]
    fn pss_and_cmdline() {
        let rollup = b"5555-7777 ---p 00000000 00:00 0 [rollup]\nRss:   19000 kB\nPss:   12345 kB\nPss_Anon: 3 kB\n";
        assert_eq!(parse_pss_bytes(rollup), Some(12345 * 1024));
        assert_eq!(
            parse_cmdline(b"python3\0-c\0pass\0"),
            vec!["python3", "-c", "pass"]
        );
        assert!(parse_cmdline(b"").is_empty());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_u64(b"12a"), None);
    }
}
