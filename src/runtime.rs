//! The one tokio runtime every request and background refresh runs on: a
//! single-threaded scheduler on its own thread (one I/O thread is plenty for
//! an HTTP client, and it saves the cross-thread wake-ups of work stealing).
//! Its thread is not a Node handle, so it never keeps the event loop alive.
//!
//! `submit` batches work handed over from other threads: each remote spawn
//! would wake the runtime thread with a syscall, so jobs queue up and only
//! the first job into an empty queue wakes it.

use parking_lot::Mutex;
use std::future::Future;
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

fn runtime() -> &'static Arc<Runtime> {
    static RT: OnceLock<Arc<Runtime>> = OnceLock::new();
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

/// Runs `fut` on the runtime, from any thread, batching the wake-up.
pub fn submit(fut: impl Future<Output = ()> + Send + 'static) {
    let rt = runtime();
    let first = {
        let mut jobs = rt.jobs.lock();
        jobs.push(Box::pin(fut));
        jobs.len() == 1
    };
    if first {
        rt.wake.notify_one();
    }
}
