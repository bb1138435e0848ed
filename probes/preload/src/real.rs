//! The next definition of each hooked function (`dlsym(RTLD_NEXT, name)`), resolved once in the
//! constructor and kept in an atomic: libc's, or another preloaded library's when the target
//! already had an LD_PRELOAD, so chained probes keep working.

use core::ffi::c_int;
use core::sync::atomic::{AtomicUsize, Ordering::*};

pub struct Real {
    /// NUL-terminated symbol name.
    name: &'static str,
    ptr: AtomicUsize,
}

impl Real {
    pub const fn new(name: &'static str) -> Real {
        Real {
            name,
            ptr: AtomicUsize::new(0),
        }
    }

    /// Looks the symbol up now. Called from the constructor for every hook.
    #[cold]
    pub fn resolve(&self) -> usize {
        // SAFETY: `name` is NUL-terminated (every Real::new site appends "\0").
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr() as *const libc::c_char) };
        let p = p as usize;
        self.ptr.store(p, Relaxed);
        p
    }

    /// The function pointer, as the hook's own signature `F`; None if the symbol does not exist.
    /// A hook running before our constructor (another library's constructor) resolves lazily.
    #[inline(always)]
    pub fn get<F: Copy>(&self) -> Option<F> {
        const { assert!(core::mem::size_of::<F>() == core::mem::size_of::<usize>()) };
        let mut p = self.ptr.load(Relaxed);
        if p == 0 {
            p = self.resolve();
        }
        if p == 0 {
            return None;
        }
        // SAFETY: F is the extern "C" fn pointer type of the symbol named `name` (each hook
        // declares it from its own signature), and p is that symbol's non-null address.
        Some(unsafe { core::mem::transmute_copy::<usize, F>(&p) })
    }
}

/// The result a hook returns when the next definition does not exist (never seen on glibc).
pub fn fail<T: Fail>() -> T {
    crate::sys::set_errno(libc::ENOSYS);
    T::fail()
}

pub trait Fail {
    fn fail() -> Self;
}

impl Fail for isize {
    fn fail() -> Self {
        -1
    }
}

impl Fail for i32 {
    fn fail() -> Self {
        -1
    }
}

/// Leaves through the real `_exit`/`_Exit`, or the raw syscall if there is none.
pub fn exit_via(real: &Real, status: c_int) -> ! {
    type F = unsafe extern "C" fn(c_int) -> !;
    if let Some(f) = real.get::<F>() {
        // SAFETY: the real _exit with the caller's status; it does not return.
        unsafe { f(status) }
    }
    loop {
        // SAFETY: exit_group never returns; the loop only satisfies the type.
        unsafe { libc::syscall(libc::SYS_exit_group, status) };
    }
}
