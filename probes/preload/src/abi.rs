//! The counter file's layout, shared by the probe (which writes it) and forkcast (which creates and
//! reads it): forkcast includes this very file with `#[path]`, so the two sides cannot drift.
//!
//! The file is a [`Header`] padded to [`HEADER_SIZE`] bytes, then `nslots` [`Slot`]s, one per
//! process image (claimed at load after exec, and again in the child after fork). A slot holds a
//! fixed table of [`Row`]s, one per (fd kind, peer) pair, each with bytes / calls / ns per
//! direction and the holds of SQLite's write lock on its files. Every counter is an atomic in a
//! `MAP_SHARED` mapping, so nothing is lost when a process leaves by `_exit` or dies by a
//! signal. Integers are native-endian (the file never leaves the machine that wrote it).

use core::sync::atomic::{AtomicU32, AtomicU64};

/// First 8 bytes of the file.
pub const MAGIC: [u8; 8] = *b"FKPRELD1";
/// Bumped on any layout change; the probe stays inert on a mismatch.
pub const VERSION: u32 = 2;
/// Environment variable naming the counter file. Without it the probe is inert.
pub const ENV_OUT: &str = "FORKCAST_PRELOAD_OUT";
/// Bytes before the first slot.
pub const HEADER_SIZE: usize = 4096;
/// Rows per process: the first [`KIND_COUNT`] are the per-kind "other peers" overflow rows.
pub const ROWS: usize = 48;
/// Bytes of peer text or address a row keeps (a `sun_path` is 108).
pub const PEER_CAP: usize = 112;
/// Bytes of `/proc/self/exe` a slot keeps.
pub const EXE_CAP: usize = 256;

/// fd kinds (`Row::kind`).
pub const KIND_PIPE: u32 = 1;
pub const KIND_UNIX: u32 = 2;
pub const KIND_TCP: u32 = 3;
pub const KIND_UDP: u32 = 4;
pub const KIND_FILE: u32 = 5;
pub const KIND_OTHER: u32 = 6;
/// Number of kinds; kind `k` has its overflow row at index `k - 1`.
pub const KIND_COUNT: usize = 6;

/// Most rows one kind may take (overflow row excluded), so that the dozens of directories an
/// interpreter imports from at start-up cannot crowd out the sockets and pipes that come later.
pub const fn kind_row_cap(kind: u32) -> usize {
    match kind {
        KIND_FILE => 16,
        KIND_OTHER => 8,
        _ => ROWS,
    }
}

/// Directions (index into `Row::ctr`).
pub const DIR_IN: usize = 0;
pub const DIR_OUT: usize = 1;
/// fsync / fdatasync: calls and ns, no bytes.
pub const DIR_SYNC: usize = 2;
pub const DIR_COUNT: usize = 3;

/// How `Row::peer` is encoded (`Row::peer_tag`).
pub const PEER_NONE: u32 = 0;
/// UTF-8-ish text: a directory, a unix socket path, `pipe:[ino]`, a `/proc/self/fd` link.
pub const PEER_TEXT: u32 = 1;
/// A raw `sockaddr_in`.
pub const PEER_INET: u32 = 2;
/// A raw `sockaddr_in6`.
pub const PEER_INET6: u32 = 3;
/// The kind's overflow row: peers that did not fit in the table.
pub const PEER_OVERFLOW: u32 = 4;

/// `Row::flags`: the peer is this socket's own address (a connection this process accepted).
pub const ROW_LOCAL: u32 = 1;
/// `Row::flags`: the peer text was cut at [`PEER_CAP`] bytes.
pub const ROW_TRUNCATED: u32 = 2;

/// `Row::state` values.
pub const ROW_EMPTY: u32 = 0;
pub const ROW_CLAIMING: u32 = 1;
pub const ROW_READY: u32 = 2;

/// `Slot::exit_flags` bits.
pub const EXIT_ATEXIT: u32 = 1;
pub const EXIT_UNDERSCORE: u32 = 2;
/// The slot was claimed in a fork child (same image as the parent, no exec).
pub const SLOT_FORKED: u32 = 4;

/// The file header. forkcast writes every field but `next_slot` and `dropped_processes`.
#[repr(C)]
pub struct Header {
    pub magic: [u8; 8],
    pub version: u32,
    pub header_size: u32,
    pub slot_size: u32,
    pub rows_per_slot: u32,
    pub nslots: u32,
    pub reserved0: u32,
    /// Slots claimed so far (may run past `nslots`; those claims were dropped).
    pub next_slot: AtomicU32,
    pub reserved1: u32,
    /// Processes that found no free slot and ran uncounted.
    pub dropped_processes: AtomicU64,
}

/// Bytes, calls and ns spent inside the call, for one direction of one row.
#[repr(C)]
pub struct Counter {
    pub bytes: AtomicU64,
    pub calls: AtomicU64,
    pub ns: AtomicU64,
}

/// SQLite's write lock held on a file of this row: holds taken and released, and the ns between.
#[repr(C)]
pub struct LockCounter {
    pub holds: AtomicU64,
    pub ns: AtomicU64,
}

/// The byte SQLite's WAL writer lock takes on the `-shm` file (os_unix.c: `UNIX_SHM_BASE`,
/// (22 + 8) * 4, plus `WAL_WRITE_LOCK`, slot 0).
pub const SQLITE_WAL_WRITE_BYTE: i64 = 120;
/// The byte a rollback-journal database takes for its RESERVED lock (`PENDING_BYTE + 1`).
pub const SQLITE_RESERVED_BYTE: i64 = 0x4000_0001;

/// One (kind, peer) pair of one process.
#[repr(C)]
pub struct Row {
    /// `ROW_EMPTY` -> `ROW_CLAIMING` (key being written) -> `ROW_READY`.
    pub state: AtomicU32,
    pub kind: u32,
    pub peer_tag: u32,
    pub peer_len: u32,
    pub flags: u32,
    pub reserved: u32,
    pub peer: [u8; PEER_CAP],
    pub ctr: [Counter; DIR_COUNT],
    /// SQLite's write lock (`SQLITE_WAL_WRITE_BYTE` or `SQLITE_RESERVED_BYTE`) on a file of
    /// this row: each hold from the successful `F_WRLCK` to the unlock that covers the byte.
    pub lock: LockCounter,
}

/// One process image.
#[repr(C)]
pub struct Slot {
    /// 0 until the claimer has written pid, comm and exe; then 1.
    pub state: AtomicU32,
    pub pid: i32,
    pub ppid: i32,
    pub exit_flags: AtomicU32,
    /// CLOCK_MONOTONIC at claim, and at exit when an exit path was seen.
    pub start_ns: u64,
    pub end_ns: AtomicU64,
    /// Classifications that found the row table full and went to an overflow row.
    pub rows_overflowed: AtomicU64,
    pub comm: [u8; 16],
    pub exe: [u8; EXE_CAP],
    pub rows: [Row; ROWS],
}

/// Size of one slot in the file.
pub const SLOT_SIZE: usize = core::mem::size_of::<Slot>();

const _: () = assert!(core::mem::size_of::<Header>() <= HEADER_SIZE);
const _: () = assert!(core::mem::size_of::<Row>() == 224);
const _: () = assert!(SLOT_SIZE.is_multiple_of(8));
