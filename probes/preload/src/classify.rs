//! What an fd is (pipe, unix socket, tcp/udp socket, regular file, other) and who is at the other
//! end, resolved once per fd on the slow path and kept as a row index in the fd cache.
//!
//! The slow path costs a few syscalls (fstat, getsockopt, getpeername or readlink), about 1 µs on
//! this VM; after that a call costs two clock reads and three atomic adds.

use crate::abi::{
    kind_row_cap, Slot, KIND_FILE, KIND_OTHER, KIND_PIPE, KIND_TCP, KIND_UDP, KIND_UNIX, PEER_CAP,
    PEER_INET, PEER_INET6, PEER_NONE, PEER_TEXT, ROWS, ROW_CLAIMING, ROW_EMPTY, ROW_LOCAL,
    ROW_READY, ROW_TRUNCATED,
};
use crate::state::{cache_row, cached_row, row_ptr};
use crate::sys::{push_bytes, push_dec, readlink};
use core::ffi::c_int;
use core::mem::size_of;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::Ordering::*;

/// A row's identity: kind and peer.
pub struct Key {
    kind: u32,
    tag: u32,
    flags: u32,
    len: u32,
    peer: [u8; PEER_CAP],
}

impl Key {
    fn new(kind: u32) -> Key {
        Key {
            kind,
            tag: PEER_NONE,
            flags: 0,
            len: 0,
            peer: [0; PEER_CAP],
        }
    }

    fn text(kind: u32, text: &[u8], flags: u32) -> Key {
        let mut k = Key::new(kind);
        let n = push_bytes(&mut k.peer, 0, text);
        k.tag = PEER_TEXT;
        k.len = n as u32;
        k.flags = flags | if n < text.len() { ROW_TRUNCATED } else { 0 };
        k
    }

    fn bytes(&self) -> &[u8] {
        self.peer.get(..self.len as usize).unwrap_or(&[])
    }
}

/// Adds one call to row `row` of `slot`.
///
/// # Safety
/// `slot` is the active slot and `row < ROWS`.
#[inline(always)]
pub unsafe fn add(slot: *mut Slot, row: usize, dir: usize, bytes: u64, ns: u64) {
    // SAFETY: the caller guarantees the slot and row; counters are atomics in the shared map.
    unsafe {
        let r = row_ptr(slot, row);
        if let Some(c) = (*addr_of!((*r).ctr)).get(dir) {
            if bytes > 0 {
                c.bytes.fetch_add(bytes, Relaxed);
            }
            c.calls.fetch_add(1, Relaxed);
            c.ns.fetch_add(ns, Relaxed);
        }
    }
}

/// Adds one hold of SQLite's write lock, `ns` long, to row `row` of `slot`.
///
/// # Safety
/// `slot` is the active slot and `row < ROWS`.
#[inline(always)]
pub unsafe fn add_lock(slot: *mut Slot, row: usize, ns: u64) {
    // SAFETY: the caller guarantees the slot and row; counters are atomics in the shared map.
    unsafe {
        let r = row_ptr(slot, row);
        (*r).lock.holds.fetch_add(1, Relaxed);
        (*r).lock.ns.fetch_add(ns, Relaxed);
    }
}

/// The row for `fd`: from the cache, else classified now and cached.
///
/// # Safety
/// `slot` is the active slot.
#[inline]
pub unsafe fn row_for_fd(slot: *mut Slot, fd: c_int) -> usize {
    if let Some(row) = cached_row(fd) {
        return row;
    }
    // SAFETY: forwarded from the caller.
    unsafe { classify_and_cache(slot, fd, false) }
}

/// Classifies `fd` now (ignoring the cache) and caches the result. `accepted`: the fd came from
/// accept(), so its peer is named by the local (listening) address.
///
/// # Safety
/// `slot` is the active slot.
#[cold]
pub unsafe fn classify_and_cache(slot: *mut Slot, fd: c_int, accepted: bool) -> usize {
    let Some(key) = classify(fd, accepted) else {
        // Not an open fd (the call failed with EBADF): count it as "other", cache nothing.
        return KIND_OTHER as usize - 1;
    };
    // SAFETY: forwarded from the caller.
    let row = unsafe { find_or_claim(slot, &key) };
    cache_row(fd, row);
    row
}

/// For datagram sockets addressed per call (sendto/recvfrom/sendmsg/recvmsg with an address):
/// the row of that address when `fd` is an unconnected UDP socket, else `fd`'s row.
///
/// # Safety
/// `slot` is the active slot; `addr` is null or points to `len` readable bytes.
#[inline]
pub unsafe fn row_for_addr(
    slot: *mut Slot,
    fd: c_int,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> usize {
    // SAFETY: forwarded from the caller.
    let row = unsafe { row_for_fd(slot, fd) };
    if addr.is_null() {
        return row;
    }
    // SAFETY: row < ROWS; kind is immutable once the row is READY.
    let (kind, tag) = unsafe {
        let r = row_ptr(slot, row);
        (*addr_of!((*r).kind), *addr_of!((*r).peer_tag))
    };
    if kind != KIND_UDP || tag != PEER_NONE {
        return row;
    }
    // SAFETY: forwarded from the caller.
    match unsafe { inet_key(KIND_UDP, addr, len, 0) } {
        // SAFETY: forwarded from the caller.
        Some(key) => unsafe { find_or_claim(slot, &key) },
        None => row,
    }
}

/// Finds the ready row with this key, or claims an empty one; the kind's overflow row when full.
/// Two threads classifying the same peer at once may claim two rows; forkcast merges them.
///
/// # Safety
/// `slot` is the active slot.
unsafe fn find_or_claim(slot: *mut Slot, key: &Key) -> usize {
    let cap = kind_row_cap(key.kind);
    let mut same_kind = 0;
    for i in crate::abi::KIND_COUNT..ROWS {
        // SAFETY: i < ROWS.
        let r = unsafe { row_ptr(slot, i) };
        // SAFETY: state is an atomic inside a valid row.
        let state = unsafe { &(*r).state };
        let mut s = state.load(Acquire);
        if s == ROW_EMPTY && same_kind < cap {
            if state
                .compare_exchange(ROW_EMPTY, ROW_CLAIMING, Acquire, Acquire)
                .is_ok()
            {
                // SAFETY: we own the row while it is CLAIMING; readers wait for READY.
                unsafe {
                    addr_of_mut!((*r).kind).write(key.kind);
                    addr_of_mut!((*r).peer_tag).write(key.tag);
                    addr_of_mut!((*r).peer_len).write(key.len);
                    addr_of_mut!((*r).flags).write(key.flags);
                    addr_of_mut!((*r).peer).write(key.peer);
                }
                state.store(ROW_READY, Release);
                return i;
            }
            s = state.load(Acquire);
        }
        if s == ROW_READY {
            // SAFETY: a READY row's key is never written again.
            if unsafe { matches(r, key) } {
                return i;
            }
            // SAFETY: as above.
            same_kind += usize::from(unsafe { *addr_of!((*r).kind) } == key.kind);
        }
    }
    // SAFETY: rows_overflowed is an atomic in the active slot.
    unsafe { (*slot).rows_overflowed.fetch_add(1, Relaxed) };
    key.kind as usize - 1
}

/// # Safety
/// `r` is a READY row.
unsafe fn matches(r: *const crate::abi::Row, key: &Key) -> bool {
    // SAFETY: READY rows are immutable apart from their atomic counters.
    unsafe {
        *addr_of!((*r).kind) == key.kind
            && *addr_of!((*r).peer_tag) == key.tag
            && *addr_of!((*r).flags) == key.flags
            && *addr_of!((*r).peer_len) == key.len
            && (*addr_of!((*r).peer)).get(..key.len as usize) == Some(key.bytes())
    }
}

/// What `fd` is. None when it is not an open fd.
fn classify(fd: c_int, accepted: bool) -> Option<Key> {
    // SAFETY: an all-zero stat is a valid value for fstat to overwrite.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat writes one stat; a bad fd just fails.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    let key = match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => {
            let mut t = [0u8; 32];
            let n = push_bytes(&mut t, 0, b"pipe:[");
            let n = push_dec(&mut t, n, st.st_ino);
            let n = push_bytes(&mut t, n, b"]");
            Key::text(KIND_PIPE, &t[..n], 0)
        }
        libc::S_IFREG => {
            let mut path = [0u8; 1024];
            let n = fd_link(fd, &mut path);
            let dir = path[..n].iter().rposition(|&b| b == b'/').unwrap_or(0);
            Key::text(KIND_FILE, if dir == 0 { b"/" } else { &path[..dir] }, 0)
        }
        libc::S_IFSOCK => socket_key(fd, accepted, st.st_ino),
        _ => {
            let mut path = [0u8; PEER_CAP];
            let n = fd_link(fd, &mut path);
            Key::text(KIND_OTHER, &path[..n], 0)
        }
    };
    Some(key)
}

fn socket_key(fd: c_int, accepted: bool, ino: u64) -> Key {
    let domain = sockopt(fd, libc::SO_DOMAIN);
    let ty = sockopt(fd, libc::SO_TYPE);
    match domain {
        libc::AF_UNIX => unix_key(fd, ino),
        libc::AF_INET | libc::AF_INET6 => {
            let kind = match ty {
                libc::SOCK_STREAM => KIND_TCP,
                libc::SOCK_DGRAM => KIND_UDP,
                _ => KIND_OTHER,
            };
            // SAFETY: an all-zero sockaddr_storage is valid.
            let mut sa: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
            let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let p = &mut sa as *mut _ as *mut libc::sockaddr;
            // SAFETY: the calls write at most `len` bytes into `sa`.
            let ok = unsafe {
                if accepted {
                    libc::getsockname(fd, p, &mut len)
                } else {
                    libc::getpeername(fd, p, &mut len)
                }
            } == 0;
            let flags = if accepted { ROW_LOCAL } else { 0 };
            // SAFETY: `sa` holds `len` valid bytes when ok.
            let key = ok
                .then(|| unsafe { inet_key(kind, p, len, flags) })
                .flatten();
            key.unwrap_or_else(|| Key::new(kind))
        }
        _ => {
            let mut path = [0u8; PEER_CAP];
            let n = fd_link(fd, &mut path);
            Key::text(KIND_OTHER, &path[..n], 0)
        }
    }
}

/// A unix socket's resource: the peer's path, else our own bound path (the server side of an
/// accepted connection), else `socket:[ino]` (socketpairs and other unnamed sockets).
fn unix_key(fd: c_int, ino: u64) -> Key {
    for (peer, flags) in [(true, 0), (false, ROW_LOCAL)] {
        // SAFETY: an all-zero sockaddr_un is valid.
        let mut sa: libc::sockaddr_un = unsafe { core::mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let p = &mut sa as *mut _ as *mut libc::sockaddr;
        // SAFETY: the calls write at most `len` bytes into `sa`.
        let rc = unsafe {
            if peer {
                libc::getpeername(fd, p, &mut len)
            } else {
                libc::getsockname(fd, p, &mut len)
            }
        };
        let base = size_of::<libc::sa_family_t>();
        let len = (len as usize).min(size_of::<libc::sockaddr_un>());
        if rc != 0 || len <= base {
            continue;
        }
        let mut path = [0u8; 110];
        for (d, s) in path.iter_mut().zip(sa.sun_path.iter()) {
            *d = *s as u8;
        }
        let n = (len - base).min(path.len());
        let text = if path[0] == 0 {
            // Abstract socket: show it as `@name`.
            path[0] = b'@';
            &path[..n]
        } else {
            let end = path[..n].iter().position(|&b| b == 0).unwrap_or(n);
            &path[..end]
        };
        return Key::text(KIND_UNIX, text, flags);
    }
    let mut t = [0u8; 32];
    let n = push_bytes(&mut t, 0, b"socket:[");
    let n = push_dec(&mut t, n, ino);
    let n = push_bytes(&mut t, n, b"]");
    Key::text(KIND_UNIX, &t[..n], 0)
}

/// A key for an IPv4/IPv6 address, normalised (padding, flow info zeroed) so equal addresses
/// compare equal.
///
/// # Safety
/// `addr` points to `len` readable bytes.
unsafe fn inet_key(
    kind: u32,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
    flags: u32,
) -> Option<Key> {
    let len = len as usize;
    if len < size_of::<libc::sa_family_t>() {
        return None;
    }
    // SAFETY: at least the family is readable.
    let family = c_int::from(unsafe { (*addr).sa_family });
    let mut key = Key::new(kind);
    key.flags = flags;
    if family == libc::AF_INET && len >= size_of::<libc::sockaddr_in>() {
        // SAFETY: `len` covers a sockaddr_in; read unaligned because callers' buffers may be.
        let a = unsafe { (addr as *const libc::sockaddr_in).read_unaligned() };
        // SAFETY: all-zero is a valid sockaddr_in.
        let mut n: libc::sockaddr_in = unsafe { core::mem::zeroed() };
        n.sin_family = a.sin_family;
        n.sin_port = a.sin_port;
        n.sin_addr = a.sin_addr;
        key.tag = PEER_INET;
        key.len = store(&mut key.peer, &n) as u32;
        Some(key)
    } else if family == libc::AF_INET6 && len >= size_of::<libc::sockaddr_in6>() {
        // SAFETY: `len` covers a sockaddr_in6.
        let a = unsafe { (addr as *const libc::sockaddr_in6).read_unaligned() };
        // SAFETY: all-zero is a valid sockaddr_in6.
        let mut n: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
        n.sin6_family = a.sin6_family;
        n.sin6_port = a.sin6_port;
        n.sin6_addr = a.sin6_addr;
        n.sin6_scope_id = a.sin6_scope_id;
        key.tag = PEER_INET6;
        key.len = store(&mut key.peer, &n) as u32;
        Some(key)
    } else {
        None
    }
}

/// Copies a plain-old-data value's bytes into `out`; returns the byte count.
fn store<T: Copy>(out: &mut [u8; PEER_CAP], v: &T) -> usize {
    let n = size_of::<T>().min(PEER_CAP);
    // SAFETY: T is a C struct of n readable bytes; `out` has room for n (checked above).
    unsafe { core::ptr::copy_nonoverlapping(v as *const T as *const u8, out.as_mut_ptr(), n) };
    n
}

fn sockopt(fd: c_int, opt: c_int) -> c_int {
    let mut v: c_int = -1;
    let mut len = size_of::<c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most one int.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            &mut v as *mut _ as *mut _,
            &mut len,
        )
    };
    v
}

/// readlink(/proc/self/fd/N) into `out`; returns the length (0 on failure).
fn fd_link(fd: c_int, out: &mut [u8]) -> usize {
    // "/proc/self/fd/" plus at most 10 digits leaves the zeroed tail as the terminating NUL.
    let mut p = [0u8; 32];
    let n = push_bytes(&mut p, 0, b"/proc/self/fd/");
    push_dec(&mut p, n, fd as u64);
    readlink(p.as_ptr() as *const libc::c_char, out)
}
