//! Running out of memory (under `ulimit -v`, a container's limit, or a document that holds
//! more than the machine has) ends the run like any other failure: a message, exit status 1
//! and no temporary file left, instead of Rust's abort (SIGABRT, and a core dump where
//! those are on).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// The system allocator, reporting failure instead of aborting.
pub struct Reporting;

// SAFETY: every call is passed to `System` unchanged; only a null result is acted on.
unsafe impl GlobalAlloc for Reporting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        checked(System.alloc(layout), layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        checked(System.alloc_zeroed(layout), layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        checked(System.realloc(ptr, layout, new_size), new_size)
    }
}

fn checked(pointer: *mut u8, size: usize) -> *mut u8 {
    if pointer.is_null() {
        out_of_memory(size);
    }
    pointer
}

/// Set once the run is ending, so that whatever the clean-up allocates and fails to get
/// does not start it again.
static ENDING: AtomicBool = AtomicBool::new(false);

/// Writes the message from a fixed buffer (allocating is what just failed), removes the
/// temporary output file and exits at once: no destructor may run on a heap in this state.
fn out_of_memory(size: usize) -> ! {
    if !ENDING.swap(true, Ordering::SeqCst) {
        let mut message = [0u8; 256];
        let mut cursor = &mut message[..];
        let _ = writeln!(
            cursor,
            "error: out of memory: could not allocate {size} bytes; the input needs more \
             memory than this process may use"
        );
        let length = 256 - cursor.len();
        // SAFETY: writes bytes of a live buffer to standard error.
        unsafe { libc::write(libc::STDERR_FILENO, message.as_ptr().cast(), length) };
        tensorjson::output::try_remove_temporaries();
    }
    // SAFETY: ends the process without running anything more of it.
    unsafe { libc::_exit(1) }
}

/// Keeps large blocks (the 1 MiB stream buffers) in their own mappings, given back whole when
/// freed. glibc otherwise raises its mmap threshold past the first large block freed and serves
/// the next from the heap, which `calloc` must zero page by page: a megabyte touched per buffer
/// per item, which made a directory of 10,000 small files cost seconds of page faults.
pub fn large_blocks_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
    }
}
