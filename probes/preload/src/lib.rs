//! forkcast's LD_PRELOAD probe: bytes, calls and ns inside read/write/send/recv/... per fd kind
//! and peer, and the time SQLite's write lock is held (its `fcntl` locks), added atomically to a
//! shared file forkcast names in `FORKCAST_PRELOAD_OUT`.
//!
//! Without that variable every hook is a pass-through to the next definition (one atomic load
//! more). With it, each process image claims a slot in the file (after exec in the constructor,
//! after fork in the child), and each call adds to the row of its fd's (kind, peer). Nothing is
//! buffered, so processes that leave by `_exit` or a signal lose nothing. Hooks never allocate,
//! lock or do I/O of their own, and restore errno, so a call's result is the real call's result.
//! See `abi.rs` for the file layout.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod abi;
mod classify;
mod real;
mod state;
mod sys;

use abi::{DIR_IN as IN, DIR_OUT as OUT, DIR_SYNC, EXIT_UNDERSCORE};
use abi::{SQLITE_RESERVED_BYTE, SQLITE_WAL_WRITE_BYTE};
use classify::{add, add_lock, classify_and_cache, row_for_addr, row_for_fd};
use core::ffi::{c_char, c_int, c_uint, c_void};
use libc::{iovec, loff_t, mode_t, msghdr, off64_t, off_t, size_t, sockaddr, socklen_t, ssize_t};
use real::Real;
use state::{active, forget_fd, forget_range, lock_released, lock_taken};
use sys::{errno, now_ns, set_errno};

/// Runs `$call`, and when the probe is active, times it and adds its result to `$fd`'s row in
/// direction `$dir`. `$addr` is `(sockaddr ptr, len)` for per-call datagram addresses, read after
/// the call (recvfrom fills it).
macro_rules! counted {
    ($call:expr, $fd:expr, $dir:expr) => {
        counted!($call, $fd, $dir, (core::ptr::null(), 0))
    };
    ($call:expr, $fd:expr, $dir:expr, $addr:expr) => {{
        match active() {
            None => $call,
            Some(slot) => {
                let t0 = now_ns();
                let r = $call;
                let saved = errno();
                let ns = now_ns().wrapping_sub(t0);
                let (a, l): (*const sockaddr, socklen_t) = $addr;
                // SAFETY: slot is active; `a` is null or the caller's address of `l` bytes.
                unsafe {
                    let row = if a.is_null() {
                        row_for_fd(slot, $fd)
                    } else {
                        row_for_addr(slot, $fd, a, l)
                    };
                    add(slot, row, $dir, if r > 0 { r as u64 } else { 0 }, ns);
                }
                set_errno(saved);
                r
            }
        }
    }};
}

/// Declares each hook with its `Real` (the next definition, resolved in the constructor) and
/// `resolve_all`, which the constructor calls.
macro_rules! hooks {
    ($( $real:ident: fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => |$f:ident| $body:block )*) => {
        $(
            static $real: Real = Real::new(concat!(stringify!($name), "\0"));

            #[doc = concat!("`", stringify!($name), "`, forwarded to the next definition and counted.")]
            ///
            /// # Safety
            /// The C function's own contract: the caller's arguments are passed through untouched.
            #[no_mangle]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
                type F = unsafe extern "C" fn($($ty),*) -> $ret;
                let Some(real) = $real.get::<F>() else {
                    return real::fail();
                };
                let $f = |$($arg: $ty),*| {
                    // SAFETY: forwarding the caller's own arguments to the real function.
                    unsafe { real($($arg),*) }
                };
                $body
            }
        )*

        fn resolve_all() {
            $( $real.resolve(); )*
        }
    };
}

/// Sockaddr of a msghdr (for datagrams), read after the call.
fn msg_name(msg: *const msghdr) -> (*const sockaddr, socklen_t) {
    if msg.is_null() {
        return (core::ptr::null(), 0);
    }
    // SAFETY: the caller passed a valid msghdr to sendmsg/recvmsg.
    unsafe { ((*msg).msg_name as *const sockaddr, (*msg).msg_namelen) }
}

/// Sockaddr filled by recvfrom.
fn filled(addr: *const sockaddr, len: *const socklen_t) -> (*const sockaddr, socklen_t) {
    if addr.is_null() || len.is_null() {
        return (core::ptr::null(), 0);
    }
    // SAFETY: recvfrom's caller passed a valid length pointer.
    (addr, unsafe { *len })
}

/// Runs a two-fd copy (sendfile/splice/copy_file_range) and counts bytes and calls on both ends,
/// the time on the destination only, so summed blocked time counts the call once.
fn copied(fd_in: c_int, fd_out: c_int, call: impl FnOnce() -> ssize_t) -> ssize_t {
    let Some(slot) = active() else {
        return call();
    };
    let t0 = now_ns();
    let r = call();
    let saved = errno();
    let ns = now_ns().wrapping_sub(t0);
    let bytes = if r > 0 { r as u64 } else { 0 };
    // SAFETY: slot is active.
    unsafe {
        let row = row_for_fd(slot, fd_out);
        add(slot, row, OUT, bytes, ns);
        let row = row_for_fd(slot, fd_in);
        add(slot, row, IN, bytes, 0);
    }
    set_errno(saved);
    r
}

/// Whether the range of `fl` covers SQLite's write-lock byte (`l_len` 0: to the end of the file).
fn covers_write_byte(fl: &libc::flock) -> bool {
    if fl.l_whence != libc::SEEK_SET as libc::c_short {
        return false;
    }
    let (start, len) = (fl.l_start, fl.l_len);
    [SQLITE_WAL_WRITE_BYTE, SQLITE_RESERVED_BYTE]
        .iter()
        .any(|&b| start <= b && (len == 0 || b < start.saturating_add(len)))
}

/// Runs an `fcntl`, and for a successful `F_SETLK`/`F_SETLKW` on SQLite's write-lock byte, times
/// the hold: the write lock taken (`F_WRLCK` over the byte) notes the time for (this process,
/// `fd`); any other lock or unlock over the byte ends the hold and adds it to `fd`'s row. Every
/// other command is a pass-through; a lock call costs one or two atomics more, the classifying
/// of a new fd aside.
fn locked(fd: c_int, cmd: c_int, arg: usize, call: impl FnOnce() -> c_int) -> c_int {
    let r = call();
    if r != 0 || (cmd != libc::F_SETLK && cmd != libc::F_SETLKW) || arg == 0 {
        return r;
    }
    let Some(slot) = active() else {
        return r;
    };
    // SAFETY: F_SETLK/F_SETLKW take a `struct flock *`, which the call just read successfully;
    // read unaligned in case the caller's is not.
    let fl = unsafe { (arg as *const libc::flock).read_unaligned() };
    if !covers_write_byte(&fl) {
        return r;
    }
    if fl.l_type == libc::F_WRLCK as libc::c_short {
        // SQLite takes the byte alone (`l_len` 1); a whole-file write lock is someone else's.
        if fl.l_len > 0 {
            lock_taken(fd, now_ns());
        }
        return r;
    }
    if let Some(t0) = lock_released(fd) {
        let saved = errno();
        let ns = now_ns().saturating_sub(t0);
        // SAFETY: slot is active.
        unsafe {
            let row = row_for_fd(slot, fd);
            add_lock(slot, row, ns);
        }
        set_errno(saved);
    }
    r
}

/// Forgets the fds a successful creating call returned.
fn forget_new(r: c_int) -> c_int {
    if r >= 0 {
        forget_fd(r);
    }
    r
}

/// Forgets both fds of a successful pipe()/socketpair().
fn forget_pair(r: c_int, fds: *const c_int) -> c_int {
    if r == 0 && !fds.is_null() {
        // SAFETY: on success the call wrote two ints at `fds`.
        unsafe {
            forget_fd(*fds);
            forget_fd(*fds.add(1));
        }
    }
    r
}

hooks! {
    R_READ: fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t => |f| { counted!(f(fd, buf, n), fd, IN) }
    R_WRITE: fn write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t => |f| { counted!(f(fd, buf, n), fd, OUT) }
    R_READV: fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t => |f| { counted!(f(fd, iov, cnt), fd, IN) }
    R_WRITEV: fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t => |f| { counted!(f(fd, iov, cnt), fd, OUT) }
    R_PREAD: fn pread(fd: c_int, buf: *mut c_void, n: size_t, off: off_t) -> ssize_t => |f| { counted!(f(fd, buf, n, off), fd, IN) }
    R_PREAD64: fn pread64(fd: c_int, buf: *mut c_void, n: size_t, off: off64_t) -> ssize_t => |f| { counted!(f(fd, buf, n, off), fd, IN) }
    R_PWRITE: fn pwrite(fd: c_int, buf: *const c_void, n: size_t, off: off_t) -> ssize_t => |f| { counted!(f(fd, buf, n, off), fd, OUT) }
    R_PWRITE64: fn pwrite64(fd: c_int, buf: *const c_void, n: size_t, off: off64_t) -> ssize_t => |f| { counted!(f(fd, buf, n, off), fd, OUT) }
    R_SEND: fn send(fd: c_int, buf: *const c_void, n: size_t, fl: c_int) -> ssize_t => |f| { counted!(f(fd, buf, n, fl), fd, OUT) }
    R_RECV: fn recv(fd: c_int, buf: *mut c_void, n: size_t, fl: c_int) -> ssize_t => |f| { counted!(f(fd, buf, n, fl), fd, IN) }
    R_SENDTO: fn sendto(fd: c_int, buf: *const c_void, n: size_t, fl: c_int, a: *const sockaddr, l: socklen_t) -> ssize_t => |f| {
        counted!(f(fd, buf, n, fl, a, l), fd, OUT, (a, l))
    }
    R_RECVFROM: fn recvfrom(fd: c_int, buf: *mut c_void, n: size_t, fl: c_int, a: *mut sockaddr, l: *mut socklen_t) -> ssize_t => |f| {
        counted!(f(fd, buf, n, fl, a, l), fd, IN, filled(a, l))
    }
    R_SENDMSG: fn sendmsg(fd: c_int, m: *const msghdr, fl: c_int) -> ssize_t => |f| { counted!(f(fd, m, fl), fd, OUT, msg_name(m)) }
    R_RECVMSG: fn recvmsg(fd: c_int, m: *mut msghdr, fl: c_int) -> ssize_t => |f| { counted!(f(fd, m, fl), fd, IN, msg_name(m)) }
    R_FSYNC: fn fsync(fd: c_int) -> c_int => |f| { counted!(f(fd), fd, DIR_SYNC) }
    R_FDATASYNC: fn fdatasync(fd: c_int) -> c_int => |f| { counted!(f(fd), fd, DIR_SYNC) }
    // _FORTIFY_SOURCE builds call these instead of read/recv/recvfrom/pread.
    R_READ_CHK: fn __read_chk(fd: c_int, buf: *mut c_void, n: size_t, bl: size_t) -> ssize_t => |f| { counted!(f(fd, buf, n, bl), fd, IN) }
    R_RECV_CHK: fn __recv_chk(fd: c_int, buf: *mut c_void, n: size_t, bl: size_t, fl: c_int) -> ssize_t => |f| {
        counted!(f(fd, buf, n, bl, fl), fd, IN)
    }
    R_RECVFROM_CHK: fn __recvfrom_chk(fd: c_int, buf: *mut c_void, n: size_t, bl: size_t, fl: c_int, a: *mut sockaddr, l: *mut socklen_t) -> ssize_t => |f| {
        counted!(f(fd, buf, n, bl, fl, a, l), fd, IN, filled(a, l))
    }
    R_PREAD_CHK: fn __pread_chk(fd: c_int, buf: *mut c_void, n: size_t, off: off_t, bl: size_t) -> ssize_t => |f| { counted!(f(fd, buf, n, off, bl), fd, IN) }
    R_PREAD64_CHK: fn __pread64_chk(fd: c_int, buf: *mut c_void, n: size_t, off: off64_t, bl: size_t) -> ssize_t => |f| { counted!(f(fd, buf, n, off, bl), fd, IN) }

    R_SENDFILE: fn sendfile(o: c_int, i: c_int, off: *mut off_t, n: size_t) -> ssize_t => |f| { copied(i, o, || f(o, i, off, n)) }
    R_SENDFILE64: fn sendfile64(o: c_int, i: c_int, off: *mut off64_t, n: size_t) -> ssize_t => |f| { copied(i, o, || f(o, i, off, n)) }
    R_SPLICE: fn splice(i: c_int, oi: *mut loff_t, o: c_int, oo: *mut loff_t, n: size_t, fl: c_uint) -> ssize_t => |f| { copied(i, o, || f(i, oi, o, oo, n, fl)) }
    R_COPY_FILE_RANGE: fn copy_file_range(i: c_int, oi: *mut loff_t, o: c_int, oo: *mut loff_t, n: size_t, fl: c_uint) -> ssize_t => |f| { copied(i, o, || f(i, oi, o, oo, n, fl)) }

    // fd lifecycle: keep the per-fd cache honest when fd numbers are reused.
    R_CLOSE: fn close(fd: c_int) -> c_int => |f| { let r = f(fd); forget_fd(fd); r }
    R_CLOSE_RANGE: fn close_range(lo: c_uint, hi: c_uint, fl: c_int) -> c_int => |f| {
        let r = f(lo, hi, fl);
        if r == 0 { forget_range(lo, hi); }
        r
    }
    // `fcntl`'s third argument is variadic in C (an int, or a pointer such as `struct flock *`).
    // On x86-64 and aarch64 (SysV / AAPCS64, non-Apple) the variadic caller passes it in the
    // third integer register, as for a fixed argument, and the callee reads it from there, so a
    // pointer-sized integer takes either kind unchanged and forwards it bit for bit (an int
    // arrives in the low half; the upper half is whatever the caller left, and the real fcntl
    // reads only the low half for int commands).
    R_FCNTL: fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int => |f| { locked(fd, cmd, arg, || f(fd, cmd, arg)) }
    R_FCNTL64: fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int => |f| { locked(fd, cmd, arg, || f(fd, cmd, arg)) }
    R_DUP2: fn dup2(old: c_int, new: c_int) -> c_int => |f| { forget_new(f(old, new)) }
    R_DUP3: fn dup3(old: c_int, new: c_int, fl: c_int) -> c_int => |f| { forget_new(f(old, new, fl)) }
    // `open`'s mode is variadic in C; on the x86-64 and aarch64 ABIs reading it as a third
    // argument is what the variadic callee does too.
    R_OPEN: fn open(p: *const c_char, fl: c_int, m: mode_t) -> c_int => |f| { forget_new(f(p, fl, m)) }
    R_OPEN64: fn open64(p: *const c_char, fl: c_int, m: mode_t) -> c_int => |f| { forget_new(f(p, fl, m)) }
    R_OPENAT: fn openat(d: c_int, p: *const c_char, fl: c_int, m: mode_t) -> c_int => |f| { forget_new(f(d, p, fl, m)) }
    R_OPENAT64: fn openat64(d: c_int, p: *const c_char, fl: c_int, m: mode_t) -> c_int => |f| { forget_new(f(d, p, fl, m)) }
    R_SOCKET: fn socket(d: c_int, t: c_int, p: c_int) -> c_int => |f| { forget_new(f(d, t, p)) }
    R_SOCKETPAIR: fn socketpair(d: c_int, t: c_int, p: c_int, sv: *mut c_int) -> c_int => |f| { forget_pair(f(d, t, p, sv), sv) }
    R_PIPE: fn pipe(fds: *mut c_int) -> c_int => |f| { forget_pair(f(fds), fds) }
    R_PIPE2: fn pipe2(fds: *mut c_int, fl: c_int) -> c_int => |f| { forget_pair(f(fds, fl), fds) }
    R_ACCEPT: fn accept(fd: c_int, a: *mut sockaddr, l: *mut socklen_t) -> c_int => |f| { accepted(f(fd, a, l)) }
    R_ACCEPT4: fn accept4(fd: c_int, a: *mut sockaddr, l: *mut socklen_t, fl: c_int) -> c_int => |f| { accepted(f(fd, a, l, fl)) }

    // A fork child that skips pthread_atfork handlers still needs its own slot.
    R_FORK_RAW: fn _Fork() -> libc::pid_t => |f| {
        let r = f();
        if r == 0 {
            let saved = errno();
            state::on_fork_child();
            set_errno(saved);
        }
        r
    }
}

/// A connection this process accepted: classify it now, naming it by the listening address, so
/// every client of one server lands in one row.
fn accepted(r: c_int) -> c_int {
    if r >= 0 {
        forget_fd(r);
        if let Some(slot) = active() {
            let saved = errno();
            // SAFETY: slot is active.
            unsafe { classify_and_cache(slot, r, true) };
            set_errno(saved);
        }
    }
    r
}

static R_EXIT: Real = Real::new("_exit\0");
static R_EXIT2: Real = Real::new("_Exit\0");

/// `os._exit` and multiprocessing workers leave here, skipping atexit: mark the slot first.
#[no_mangle]
pub extern "C" fn _exit(status: c_int) -> ! {
    state::mark_exit(EXIT_UNDERSCORE);
    real::exit_via(&R_EXIT, status)
}

#[no_mangle]
pub extern "C" fn _Exit(status: c_int) -> ! {
    state::mark_exit(EXIT_UNDERSCORE);
    real::exit_via(&R_EXIT2, status)
}

/// The constructor: resolve every real function first (dlsym may allocate, so never later in a
/// hook), then map the counter file if forkcast named one.
extern "C" fn init() {
    resolve_all();
    R_EXIT.resolve();
    R_EXIT2.resolve();
    state::init_from_env();
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init;
