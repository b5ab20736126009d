//! The thread pool every kernel runs on.
//!
//! One rayon pool per process. A pool inherited through `fork()` (a PyTorch
//! DataLoader worker, a multiprocessing child) has no worker threads in the
//! child, so using it would hang forever; the pool therefore remembers the pid
//! that built it and a forked child builds its own on first use.
//!
//! Kernels split work into fixed-size pieces whose results never depend on
//! which thread ran them, so output is bit-identical for any thread count.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

struct PoolSlot {
    pid: u32,
    threads: usize,
    pool: Arc<ThreadPool>,
}

static POOL: Mutex<Option<PoolSlot>> = Mutex::new(None);
static REQUESTED: Mutex<Option<usize>> = Mutex::new(None);

/// Threads used when nothing was requested: `CSIPOSE_NUM_THREADS` or all cores.
fn default_threads() -> usize {
    std::env::var("CSIPOSE_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Number of threads the next kernel call will use.
pub fn num_threads() -> usize {
    lock(&REQUESTED).unwrap_or_else(default_threads)
}

/// Sets the number of threads for later kernel calls (0 = the default).
pub fn set_num_threads(n: usize) {
    *lock(&REQUESTED) = if n == 0 { None } else { Some(n) };
}

/// The process's pool, rebuilt after a fork or a thread-count change.
pub fn pool() -> Arc<ThreadPool> {
    let pid = std::process::id();
    let threads = num_threads();
    let mut slot = lock(&POOL);
    if let Some(s) = slot.as_ref() {
        if s.pid == pid && s.threads == threads {
            return Arc::clone(&s.pool);
        }
    }
    if let Some(old) = slot.take() {
        if old.pid != pid {
            // Inherited through fork: its threads do not exist here, and
            // dropping it would wait on them. Leak it instead.
            std::mem::forget(old);
        }
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("csipose-{i}"))
            .build()
            .expect("building a rayon pool only fails when threads cannot be spawned"),
    );
    *slot = Some(PoolSlot {
        pid,
        threads,
        pool: Arc::clone(&pool),
    });
    pool
}

// --- Ctrl-C -----------------------------------------------------------------
//
// Python handles SIGINT by setting a flag that only the main thread, holding
// the GIL, can act on. A kernel runs without the GIL, so the calling thread
// watches for the signal while the pool works (see `py::detached`) and raises
// [`INTERRUPTED`]; kernels look at it between pieces of work and stop early.
// The flag belongs to every call running when it was raised: each of them
// fails, and the last one to finish lowers it again.

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static RUNNING: Mutex<usize> = Mutex::new(0);

/// True once Ctrl-C was pressed during a running kernel call: stop early.
///
/// Kernels call this between pieces of work (a block of rows, a chunk of
/// frames); what they return after it is true is discarded.
#[inline]
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Asks every running kernel call to stop.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// One kernel call in progress; [`Call::finish`] says whether it was interrupted.
pub struct Call(());

impl Call {
    /// Registers a call (a call started while the flag is raised is interrupted at once).
    pub fn start() -> Call {
        *lock(&RUNNING) += 1;
        Call(())
    }

    /// Ends the call: true if it was interrupted, so its result must be dropped.
    pub fn finish(self) -> bool {
        // The flag is only lowered once no call is counted, and this one still is.
        let was = interrupted();
        drop(self);
        was
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // Uncounts the call (also when its kernel panicked); the last one lowers the flag.
        let mut running = lock(&RUNNING);
        *running -= 1;
        if *running == 0 {
            INTERRUPTED.store(false, Ordering::Relaxed);
        }
    }
}
