//! How the process holds on to memory it no longer uses.
//!
//! glibc's allocator returns freed memory to the kernel only from the top of each arena, and
//! only blocks of at least its mmap threshold get mappings of their own that go back when
//! freed. Both keep a server resident at its peak long after the peak: loading or rescanning a
//! large library frees tens of megabytes below allocations that live on, and each sign-in's
//! 19 MiB Argon2 buffer would stay in a heap once the threshold has risen past it.

/// Blocks of this size or more get a mapping of their own. Above the largest answer a request
/// builds (a 500-song page is about 450 KB of JSON, its buffer 512 KiB): those are made many
/// times a second and reuse heap memory, where a fresh mapping for each would cost a third of
/// their throughput in page faults.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 2 * 1024 * 1024;

/// Free memory at the top of a heap is kept up to this size instead of going back to the
/// kernel at once. glibc's default, 128 KiB, is less than one search's or one large answer's
/// scratch: every such request then gave its pages back on the way out and faulted them in again
/// on the way in, and each give-back interrupts every core running one of our threads to flush
/// its TLB. Bulk frees still go back, through [`release_free_heap`].
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 4 * 1024 * 1024;

/// Fixes the mmap threshold at 2 MiB. glibc would otherwise raise it to the size of every
/// mapped block that is freed, up to 32 MiB, and serve later blocks of that size from its
/// heaps, where they stay resident once freed. Call it first, before other threads start.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "mallopt is a C function")]
pub fn tune_allocator() {
    // SAFETY: mallopt takes plain integers and glibc serialises it with allocator calls.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Returns the free pages of every allocator arena to the kernel. It walks and locks each arena
/// in turn, so call it after bulk work, not on a request's path.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "malloc_trim is a C function")]
pub fn release_free_heap() {
    // SAFETY: malloc_trim takes no pointers and glibc serialises it with every other
    // allocator call; it only hands free pages back.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators behave well enough by themselves, or have no such settings.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}

/// Other allocators give memory back by themselves, or have no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_heap() {}
