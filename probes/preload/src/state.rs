//! Process state: the mapped counter file, this process's slot, and the per-fd row cache.
//!
//! Everything here is a static atomic, so hooks running in signal handlers, in several threads at
//! once or in a vfork child never block and never allocate. Rows and slots live in the shared
//! mapping and are only touched through raw pointers.

use crate::abi::{
    Header, Row, Slot, EXIT_ATEXIT, HEADER_SIZE, KIND_COUNT, MAGIC, PEER_OVERFLOW, ROWS, ROW_READY,
    SLOT_FORKED, SLOT_SIZE, VERSION,
};
use crate::sys;
use core::ptr::{addr_of, addr_of_mut, null_mut};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::*};

/// The probe's variable as a C string; a const check below keeps it equal to `abi::ENV_OUT`.
const ENV_OUT_C: &core::ffi::CStr = c"FORKCAST_PRELOAD_OUT";
const _: () = assert!(bytes_eq(
    ENV_OUT_C.to_bytes(),
    crate::abi::ENV_OUT.as_bytes()
));

/// fds below this get a cached row; higher fds are classified on every call (correct, slower).
pub const FD_CACHE: usize = 4096;

/// Start of the shared mapping; null when the probe is inert.
static BASE: AtomicPtr<u8> = AtomicPtr::new(null_mut());
static NSLOTS: AtomicU32 = AtomicU32::new(0);
/// This process's slot; null when inert or when the file had no free slot.
static SLOT: AtomicPtr<Slot> = AtomicPtr::new(null_mut());
/// fd -> row index + 1 in this process's slot (0 = not classified yet).
static FD_ROWS: [AtomicU32; FD_CACHE] = [const { AtomicU32::new(0) }; FD_CACHE];
/// fd -> CLOCK_MONOTONIC ns when this process took SQLite's write lock on it (0 = not held).
/// POSIX locks belong to a process, so this is per (process, fd): a fork child clears it.
static LOCK_T0: [AtomicU64; FD_CACHE] = [const { AtomicU64::new(0) }; FD_CACHE];

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// This process's slot, or None when the probe is inert: the first thing every hook asks.
#[inline(always)]
pub fn active() -> Option<*mut Slot> {
    let s = SLOT.load(Acquire);
    (!s.is_null()).then_some(s)
}

/// Maps the file named by `FORKCAST_PRELOAD_OUT` and claims a slot. Runs once, from the
/// constructor, after every real function pointer is resolved. Any failure leaves the probe inert.
pub fn init_from_env() {
    // SAFETY: getenv with a NUL-terminated name; the constructor runs before other threads exist.
    let path = unsafe { libc::getenv(ENV_OUT_C.as_ptr()) };
    if path.is_null() {
        return;
    }
    let Some((base, len)) = sys::map_shared(path) else {
        return;
    };
    // SAFETY: `map_shared` returned a mapping of `len` bytes, at least HEADER_SIZE long.
    let nslots = unsafe { header_slots(base, len) };
    let Some(nslots) = nslots else {
        sys::unmap(base, len);
        return;
    };
    NSLOTS.store(nslots, Relaxed);
    BASE.store(base, Release);
    claim_slot(false);
    sys::register_exit_and_fork(on_exit, on_fork_child);
}

/// Checks the header forkcast wrote; returns the slot count when the layout matches ours.
///
/// # Safety
/// `base` points to a readable mapping of `len >= HEADER_SIZE` bytes.
unsafe fn header_slots(base: *mut u8, len: usize) -> Option<u32> {
    let h = base as *const Header;
    // SAFETY: the caller guarantees the header lies inside the mapping; plain fields are only
    // written by forkcast before the target starts.
    let (magic, version, hsize, ssize, rows, nslots) = unsafe {
        (
            *addr_of!((*h).magic),
            *addr_of!((*h).version),
            *addr_of!((*h).header_size),
            *addr_of!((*h).slot_size),
            *addr_of!((*h).rows_per_slot),
            *addr_of!((*h).nslots),
        )
    };
    let ok = magic == MAGIC
        && version == VERSION
        && hsize as usize == HEADER_SIZE
        && ssize as usize == SLOT_SIZE
        && rows as usize == ROWS
        && HEADER_SIZE.saturating_add((nslots as usize).saturating_mul(SLOT_SIZE)) <= len;
    ok.then_some(nslots)
}

/// Claims the next free slot for this process image and makes it the active one.
/// `forked`: called in a fork child (same image, no exec).
fn claim_slot(forked: bool) {
    let base = BASE.load(Acquire);
    if base.is_null() {
        return;
    }
    let header = base as *const Header;
    // SAFETY: BASE is a live mapping whose header was validated; next_slot is atomic.
    let index = unsafe { (*header).next_slot.fetch_add(1, Relaxed) };
    if index >= NSLOTS.load(Relaxed) {
        // SAFETY: as above; dropped_processes is atomic.
        unsafe { (*header).dropped_processes.fetch_add(1, Relaxed) };
        SLOT.store(null_mut(), Release);
        return;
    }
    let offset = HEADER_SIZE + index as usize * SLOT_SIZE;
    // SAFETY: index < nslots and the header check proved the mapping holds nslots slots.
    let slot = unsafe { base.add(offset) } as *mut Slot;
    // SAFETY: this slot index was handed to us alone by fetch_add, so nobody else writes it;
    // forkcast reads it only after the run.
    unsafe {
        addr_of_mut!((*slot).pid).write(sys::getpid());
        addr_of_mut!((*slot).ppid).write(sys::getppid());
        addr_of_mut!((*slot).start_ns).write(sys::now_ns());
        sys::comm(&mut *addr_of_mut!((*slot).comm));
        sys::exe(&mut *addr_of_mut!((*slot).exe));
        for k in 0..KIND_COUNT {
            let row = addr_of_mut!((*slot).rows[k]);
            addr_of_mut!((*row).kind).write(k as u32 + 1);
            addr_of_mut!((*row).peer_tag).write(PEER_OVERFLOW);
            (*row).state.store(ROW_READY, Release);
        }
        if forked {
            (*slot).exit_flags.store(SLOT_FORKED, Relaxed);
        }
        (*slot).state.store(1, Release);
    }
    SLOT.store(slot, Release);
}

/// pthread_atfork child handler (and the `_Fork` hook): the child gets its own slot and forgets
/// the parent's fd classifications, which point at rows of the parent's slot.
pub extern "C" fn on_fork_child() {
    if BASE.load(Acquire).is_null() {
        return;
    }
    for entry in FD_ROWS.iter() {
        entry.store(0, Relaxed);
    }
    // A fork child holds none of its parent's POSIX locks.
    for entry in LOCK_T0.iter() {
        entry.store(0, Relaxed);
    }
    claim_slot(true);
}

/// atexit handler: marks a clean exit. Counters need no flush; they already live in the file.
extern "C" fn on_exit() {
    mark_exit(EXIT_ATEXIT);
}

/// Records how the process left, unless this is a vfork child running on its parent's memory.
pub fn mark_exit(flag: u32) {
    let Some(slot) = active() else { return };
    // SAFETY: the active slot belongs to this process image; pid is immutable once claimed,
    // exit_flags and end_ns are atomics.
    unsafe {
        if *addr_of!((*slot).pid) != sys::getpid() {
            return;
        }
        (*slot).exit_flags.fetch_or(flag, Relaxed);
        (*slot).end_ns.store(sys::now_ns(), Relaxed);
    }
}

/// The cached row index for `fd`, if any.
#[inline(always)]
pub fn cached_row(fd: i32) -> Option<usize> {
    let v = FD_ROWS.get(usize::try_from(fd).ok()?)?.load(Relaxed);
    (v != 0).then(|| v as usize - 1)
}

/// Remembers `fd`'s row.
#[inline]
pub fn cache_row(fd: i32, row: usize) {
    if let Some(entry) = usize::try_from(fd).ok().and_then(|i| FD_ROWS.get(i)) {
        entry.store(row as u32 + 1, Relaxed);
    }
}

/// Forgets `fd`'s classification (closed, replaced by dup2/dup3, or freshly created), and any
/// lock hold begun on it (a close drops the process's locks on the file, uncounted).
#[inline]
pub fn forget_fd(fd: i32) {
    if let Some(i) = usize::try_from(fd).ok().filter(|&i| i < FD_CACHE) {
        FD_ROWS[i].store(0, Relaxed);
        LOCK_T0[i].store(0, Relaxed);
    }
}

/// Notes that this process took SQLite's write lock on `fd` at `now` (kept if already held:
/// the hold began at the first take). fds past the cache are not tracked.
#[inline]
pub fn lock_taken(fd: i32, now: u64) {
    if let Some(entry) = usize::try_from(fd).ok().and_then(|i| LOCK_T0.get(i)) {
        let _ = entry.compare_exchange(0, now.max(1), Relaxed, Relaxed);
    }
}

/// Ends the hold on `fd`: when it began, if it was held.
#[inline]
pub fn lock_released(fd: i32) -> Option<u64> {
    let entry = usize::try_from(fd).ok().and_then(|i| LOCK_T0.get(i))?;
    // A load first, so the unlocks of bytes nobody holds cost no write.
    if entry.load(Relaxed) == 0 {
        return None;
    }
    let t0 = entry.swap(0, Relaxed);
    (t0 != 0).then_some(t0)
}

/// Forgets fds `first..=last` (close_range).
pub fn forget_range(first: u32, last: u32) {
    let hi = (last as usize).min(FD_CACHE - 1);
    for fd in first as usize..=hi {
        if let (Some(row), Some(t0)) = (FD_ROWS.get(fd), LOCK_T0.get(fd)) {
            row.store(0, Relaxed);
            t0.store(0, Relaxed);
        }
    }
}

/// Pointer to row `i` of `slot`.
///
/// # Safety
/// `slot` is the active slot and `i < ROWS`.
#[inline(always)]
pub unsafe fn row_ptr(slot: *mut Slot, i: usize) -> *mut Row {
    // SAFETY: the caller guarantees `slot` is valid and `i` in range.
    unsafe { addr_of_mut!((*slot).rows[i]) }
}
