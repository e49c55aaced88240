//! The process's allocator: mimalloc, told to keep the memory it frees.
//!
//! The CPU device allocates a fresh buffer for every tensor operation. glibc's malloc returns
//! buffers of these sizes (megabytes to hundreds of megabytes) to the kernel when they are freed,
//! so the next operation's buffer faults in freshly zeroed pages: in a STATES training step at
//! batch 10 000 page faults took a fifth of the time, in an MNIST step two fifths. mimalloc reuses
//! freed memory, and with purging off it never hands it back, so a run's resident memory stays at
//! its peak (what the CLI's memory check estimates anyway) instead of being paged in again.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the mimalloc 3 that libmimalloc-sys 0.1.49 bundles (its Rust
/// bindings name no constant for it); -1 turns purging off.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Turns off the purging of freed memory, if the option is the one expected (its default here is 1000 ms).
pub fn keep_freed_memory() {
    // SAFETY: reading and setting a mimalloc option is thread-safe and has no preconditions.
    unsafe {
        if libmimalloc_sys::mi_option_get(PURGE_DELAY) == 1000 {
            libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        }
    }
}

#[cfg(test)]
mod tests {
    /// The option number still means the purge delay: its default in this build is 1000 (ms), and
    /// `MIMALLOC_PURGE_DELAY` in the environment would change it.
    #[test]
    fn purge_delay_is_the_option_we_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) }, 1000);
        }
    }
}
