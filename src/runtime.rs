//! The one tokio runtime every request and background refresh runs on: a
//! single-threaded scheduler on its own thread (one I/O thread is plenty for
//! an HTTP client, and it saves the cross-thread wake-ups of work stealing).
//! Its thread is not a Node handle, so it never keeps the event loop alive.
//!
//! Hand-offs between threads cost a wake-up (a syscall and a context switch)
//! each, so both directions batch them:
//! - `submit` queues work from other threads and `flush` wakes the runtime
//!   once for everything queued (the JS layer flushes once per tick);
//! - `defer` runs a callback on the runtime thread once the tasks ready now
//!   have run (the napi layer wakes the JS thread that way, once per batch).
//!
//! `unpanicked` is the one guard its tasks use so that a panic still settles
//! what the task was to settle (a promise, a cache entry).

use crate::error::{Error, Result};
use futures_util::FutureExt;
use parking_lot::Mutex;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use tokio::runtime::{Builder, Handle};
use tokio::sync::Notify;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Runtime {
    handle: Handle,
    jobs: Mutex<Vec<Job>>,
    wake: Notify,
}

static RT: OnceLock<Arc<Runtime>> = OnceLock::new();

fn runtime() -> &'static Arc<Runtime> {
    RT.get_or_init(|| {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot start the wml-native I/O runtime");
        let shared = Arc::new(Runtime {
            handle: rt.handle().clone(),
            jobs: Mutex::new(Vec::new()),
            wake: Notify::new(),
        });
        let me = shared.clone();
        std::thread::Builder::new()
            .name("wml-native".into())
            .spawn(move || rt.block_on(me.run()))
            .expect("cannot start the wml-native I/O thread");
        shared
    })
}

impl Runtime {
    /// Spawns queued jobs whenever woken; runs for the life of the process.
    async fn run(&self) {
        loop {
            let woken = self.wake.notified();
            let jobs = std::mem::take(&mut *self.jobs.lock());
            if jobs.is_empty() {
                woken.await;
                continue;
            }
            for job in jobs {
                tokio::spawn(job);
            }
        }
    }
}

pub fn handle() -> Handle {
    runtime().handle.clone()
}

/// Queues `fut` to run on the runtime; it starts at the next `flush`.
pub fn submit(fut: impl Future<Output = ()> + Send + 'static) {
    runtime().jobs.lock().push(Box::pin(fut));
}

/// Wakes the runtime for the jobs `submit` queued (one wake-up for all).
/// Starts nothing if nothing was ever submitted.
pub fn flush() {
    let Some(rt) = RT.get() else { return };
    if !rt.jobs.lock().is_empty() {
        rt.wake.notify_one();
    }
}

/// On the runtime thread: runs `f` after the tasks that are ready now (so
/// work finishing in the same turn is announced once). Elsewhere: runs it now.
pub fn defer(f: impl FnOnce() + Send + 'static) {
    if Handle::try_current().is_ok() {
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            f();
        });
    } else {
        f();
    }
}

/// `fut`'s result, or an error if it panicked: a task that settles a promise
/// or a cache entry must settle it even then (a caller left waiting forever
/// is worse), and a panic must not cross into Node.
pub async fn unpanicked<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(Error::internal("a task panicked")))
}
