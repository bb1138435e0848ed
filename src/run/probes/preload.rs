//! The preload probe's forkcast side: choosing the `libforkcast_preload.so` to load, creating
//! the shared counter file it maps, and reading that file back into [`PreloadData`].
//!
//! The layout is the probe's own `abi.rs`, compiled in here too, so the two cannot drift.

use super::{c_text, u32_at, u64_at};
use crate::measure::probes::{
    ExitPath, FdKind, IoDir, IoRow, LockRow, PreloadData, PreloadProcess,
};
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../../../probes/preload/src/abi.rs"]
mod abi;

use abi::{Header, Row, Slot, HEADER_SIZE, ROWS, SLOT_SIZE};

/// Names the counter file for the probe (set by forkcast in the target's environment).
pub const ENV_PRELOAD_OUT: &str = abi::ENV_OUT;
/// Names a library file to load instead of the embedded one (a developer's own build).
pub const ENV_PRELOAD_LIB: &str = "FORKCAST_PRELOAD_LIB";
/// Process images one run can record (the pyenv shim alone starts ~40 per python call). Slots
/// are ~10 KiB and the file is sparse: only claimed slots take disk.
pub const DEFAULT_SLOTS: u32 = 4096;

/// The preload library to put in LD_PRELOAD: the file `FORKCAST_PRELOAD_LIB` names, else the
/// library embedded in forkcast, written into forkcast's private cache folder
/// (`$XDG_CACHE_HOME/forkcast` or `~/.cache/forkcast`) or, where that cannot be used, into
/// `fallback` (a run's private probe folder).
pub fn locate_preload_lib(fallback: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_PRELOAD_LIB) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("{ENV_PRELOAD_LIB}={} is not a file", p.display());
        }
        return p.canonicalize().context("resolving FORKCAST_PRELOAD_LIB");
    }
    let cached = super::private::cache_folder()
        // LD_PRELOAD splits on ':' and ' ': such a folder cannot be named there.
        .filter(|dir| !dir.to_string_lossy().contains([':', ' ']))
        .context("no cache folder: neither XDG_CACHE_HOME nor HOME is set")
        .and_then(|dir| {
            super::private::dir(&dir)?;
            super::embedded::install_in(&dir)
        });
    match (cached, fallback) {
        (Ok(lib), _) => Ok(lib),
        (Err(_), Some(dir)) => {
            super::private::dir(dir)?;
            super::embedded::install_in(dir)
        }
        (Err(e), None) => Err(e),
    }
}

/// Creates the sparse counter file with its header.
pub fn create_counter_file(path: &Path, nslots: u32) -> Result<()> {
    let mut header = vec![0u8; HEADER_SIZE];
    header[..8].copy_from_slice(&abi::MAGIC);
    put_u32(&mut header, offset_of!(Header, version), abi::VERSION);
    put_u32(
        &mut header,
        offset_of!(Header, header_size),
        HEADER_SIZE as u32,
    );
    put_u32(&mut header, offset_of!(Header, slot_size), SLOT_SIZE as u32);
    put_u32(&mut header, offset_of!(Header, rows_per_slot), ROWS as u32);
    put_u32(&mut header, offset_of!(Header, nslots), nslots);
    let write = || -> std::io::Result<()> {
        let f = super::private::new_file(path)?;
        f.write_all_at(&header, 0)?;
        f.set_len((HEADER_SIZE + nslots as usize * SLOT_SIZE) as u64)
    };
    write().with_context(|| format!("creating the preload counter file {}", path.display()))
}

/// Reads every claimed slot of the counter file.
pub fn read_counter_file(path: &Path) -> Result<PreloadData> {
    let ctx = || format!("reading the preload counter file {}", path.display());
    let f = File::open(path).with_context(ctx)?;
    let mut header = vec![0u8; HEADER_SIZE];
    f.read_exact_at(&mut header, 0).with_context(ctx)?;
    if header[..8] != abi::MAGIC
        || u32_at(&header, offset_of!(Header, version)) != abi::VERSION
        || u32_at(&header, offset_of!(Header, slot_size)) as usize != SLOT_SIZE
    {
        bail!(
            "{} is not a counter file of this forkcast version",
            path.display()
        );
    }
    let nslots = u32_at(&header, offset_of!(Header, nslots));
    let claimed = u32_at(&header, offset_of!(Header, next_slot)).min(nslots);
    let mut data = PreloadData {
        processes: Vec::new(),
        dropped_processes: u64_at(&header, offset_of!(Header, dropped_processes)),
    };
    let mut slot = vec![0u8; SLOT_SIZE];
    for i in 0..claimed as usize {
        f.read_exact_at(&mut slot, (HEADER_SIZE + i * SLOT_SIZE) as u64)
            .with_context(ctx)?;
        if let Some(p) = parse_slot(&slot) {
            data.processes.push(p);
        }
    }
    Ok(data)
}

/// One slot; None when its claimer died before writing it.
fn parse_slot(s: &[u8]) -> Option<PreloadProcess> {
    if u32_at(s, offset_of!(Slot, state)) == 0 {
        return None;
    }
    let flags = u32_at(s, offset_of!(Slot, exit_flags));
    let start = u64_at(s, offset_of!(Slot, start_ns));
    let end = u64_at(s, offset_of!(Slot, end_ns));
    let exit = if flags & abi::EXIT_UNDERSCORE != 0 {
        Some(ExitPath::UnderscoreExit)
    } else if flags & abi::EXIT_ATEXIT != 0 {
        Some(ExitPath::Exit)
    } else {
        None
    };
    let mut rows: Vec<IoRow> = Vec::new();
    let mut locks: Vec<LockRow> = Vec::new();
    for r in 0..ROWS {
        let at = offset_of!(Slot, rows) + r * size_of::<Row>();
        if let Some(lock) = parse_lock(&s[at..at + size_of::<Row>()]) {
            match locks
                .iter_mut()
                .find(|x| (x.kind, &x.peer) == (lock.kind, &lock.peer))
            {
                Some(x) => {
                    x.holds += lock.holds;
                    x.held_ns += lock.held_ns;
                }
                None => locks.push(lock),
            }
        }
        for row in parse_row(&s[at..at + size_of::<Row>()]) {
            match rows.iter_mut().find(|x| same_key(x, &row)) {
                // Two threads classifying one peer at once may have claimed two rows.
                Some(x) => {
                    x.bytes += row.bytes;
                    x.calls += row.calls;
                    x.blocked_ns += row.blocked_ns;
                }
                None => rows.push(row),
            }
        }
    }
    Some(PreloadProcess {
        pid: u32_at(s, offset_of!(Slot, pid)) as i32,
        ppid: u32_at(s, offset_of!(Slot, ppid)) as i32,
        comm: c_text(&s[offset_of!(Slot, comm)..][..16]),
        exe: c_text(&s[offset_of!(Slot, exe)..][..abi::EXE_CAP]),
        forked: flags & abi::SLOT_FORKED != 0,
        exit,
        lifetime_s: (exit.is_some() && end >= start).then(|| (end - start) as f64 / 1e9),
        rows_overflowed: u64_at(s, offset_of!(Slot, rows_overflowed)),
        rows,
        locks,
    })
}

/// A ready row's SQLite write-lock holds, if it had any.
fn parse_lock(r: &[u8]) -> Option<LockRow> {
    if u32_at(r, offset_of!(Row, state)) != abi::ROW_READY {
        return None;
    }
    let at = offset_of!(Row, lock);
    let holds = u64_at(r, at + offset_of!(abi::LockCounter, holds));
    if holds == 0 {
        return None;
    }
    let tag = u32_at(r, offset_of!(Row, peer_tag));
    let flags = u32_at(r, offset_of!(Row, flags));
    let len = (u32_at(r, offset_of!(Row, peer_len)) as usize).min(abi::PEER_CAP);
    Some(LockRow {
        kind: fd_kind(u32_at(r, offset_of!(Row, kind))),
        peer: peer_text(tag, flags, &r[offset_of!(Row, peer)..][..len]),
        holds,
        held_ns: u64_at(r, at + offset_of!(abi::LockCounter, ns)),
    })
}

fn fd_kind(k: u32) -> FdKind {
    match k {
        abi::KIND_PIPE => FdKind::Pipe,
        abi::KIND_UNIX => FdKind::Unix,
        abi::KIND_TCP => FdKind::Tcp,
        abi::KIND_UDP => FdKind::Udp,
        abi::KIND_FILE => FdKind::File,
        _ => FdKind::Other,
    }
}

fn same_key(a: &IoRow, b: &IoRow) -> bool {
    (a.kind, &a.peer, a.accepted, a.overflow, a.dir)
        == (b.kind, &b.peer, b.accepted, b.overflow, b.dir)
}

/// A ready row's non-empty directions.
fn parse_row(r: &[u8]) -> Vec<IoRow> {
    if u32_at(r, offset_of!(Row, state)) != abi::ROW_READY {
        return Vec::new();
    }
    let kind = fd_kind(u32_at(r, offset_of!(Row, kind)));
    let tag = u32_at(r, offset_of!(Row, peer_tag));
    let flags = u32_at(r, offset_of!(Row, flags));
    let len = (u32_at(r, offset_of!(Row, peer_len)) as usize).min(abi::PEER_CAP);
    let peer = peer_text(tag, flags, &r[offset_of!(Row, peer)..][..len]);
    let dirs = [
        (abi::DIR_IN, IoDir::In),
        (abi::DIR_OUT, IoDir::Out),
        (abi::DIR_SYNC, IoDir::Sync),
    ];
    // Decided here, once: pipes and unnamed socket pairs are plumbing; a port or socket name
    // says which service a peer is.
    let plumbing = kind == FdKind::Pipe
        || (kind == FdKind::Unix
            && peer.as_deref().is_some_and(|p| {
                p.starts_with("socket:[") || crate::run::sampler::pool_socket_path(p)
            }));
    let service = match (kind, peer.as_deref()) {
        (FdKind::Tcp | FdKind::Udp, Some(p)) => p
            .parse::<std::net::SocketAddr>()
            .ok()
            .and_then(|a| crate::run::sampler::service_at_port(a.port())),
        (FdKind::Unix, Some(p)) if !plumbing => crate::run::sampler::service_at_path(p),
        _ => None,
    };
    let mut out = Vec::new();
    for (d, dir) in dirs {
        let at = offset_of!(Row, ctr) + d * size_of::<abi::Counter>();
        let calls = u64_at(r, at + offset_of!(abi::Counter, calls));
        if calls == 0 {
            continue;
        }
        out.push(IoRow {
            kind,
            peer: peer.clone(),
            accepted: flags & abi::ROW_LOCAL != 0,
            overflow: tag == abi::PEER_OVERFLOW,
            plumbing,
            service,
            dir,
            bytes: u64_at(r, at + offset_of!(abi::Counter, bytes)),
            calls,
            blocked_ns: u64_at(r, at + offset_of!(abi::Counter, ns)),
        });
    }
    out
}

fn peer_text(tag: u32, flags: u32, b: &[u8]) -> Option<String> {
    match tag {
        abi::PEER_TEXT => {
            let mut s = String::from_utf8_lossy(b).into_owned();
            if flags & abi::ROW_TRUNCATED != 0 {
                s.push_str("...");
            }
            Some(s)
        }
        // sockaddr_in: family (native), port (big-endian), address.
        abi::PEER_INET if b.len() >= 8 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            Some(SocketAddrV4::new(Ipv4Addr::new(b[4], b[5], b[6], b[7]), port).to_string())
        }
        // sockaddr_in6: family, port, flowinfo, address, scope id.
        abi::PEER_INET6 if b.len() >= 28 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let addr: [u8; 16] = b[8..24].try_into().ok()?;
            let ip = Ipv6Addr::from(addr);
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddrV4::new(v4, port).to_string(),
                None => SocketAddrV6::new(ip, port, 0, u32_at(b, 24)).to_string(),
            })
        }
        _ => None,
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_peers_read_as_socket_addresses() {
        let mut v4 = [0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&5432u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(
            peer_text(abi::PEER_INET, 0, &v4).as_deref(),
            Some("127.0.0.1:5432")
        );
        let mut v6 = [0u8; 28];
        v6[2..4].copy_from_slice(&80u16.to_be_bytes());
        v6[8..24].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        assert_eq!(
            peer_text(abi::PEER_INET6, 0, &v6).as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(peer_text(abi::PEER_OVERFLOW, 0, &[]), None);
        assert_eq!(
            peer_text(abi::PEER_TEXT, abi::ROW_TRUNCATED, b"/a").as_deref(),
            Some("/a...")
        );
    }

    #[test]
    fn a_fresh_counter_file_reads_empty() {
        let dir = std::env::temp_dir().join(format!("forkcast-preload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.bin");
        create_counter_file(&file, 8).unwrap();
        let data = read_counter_file(&file).unwrap();
        assert_eq!(data, PreloadData::default());
        assert_eq!(
            std::fs::metadata(&file).unwrap().len() as usize,
            HEADER_SIZE + 8 * SLOT_SIZE
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
