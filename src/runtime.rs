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
use std::sync::{Arc, OnceLock};
use tokio::runtime::{Builder, Handle};
use tokio::sync::Notify;

/// Starts one piece of work (on the runtime thread, which builds its future:
/// a call's future is kilobytes, better allocated there than on the JS thread).
type Job = Box<dyn FnOnce() + Send>;

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
                job();
            }
        }
    }
}

pub fn handle() -> Handle {
    runtime().handle.clone()
}

/// Queues the future `make` builds to run on the runtime; it is built and
/// started at the next `flush`, on the runtime thread.
pub fn submit<F>(make: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime().jobs.lock().push(Box::new(move || {
        tokio::spawn(make());
    }));
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

/// Paces the hand-offs of finished calls to a JS thread. Waking a JS thread
/// that sleeps in its event loop costs a context switch (on a VM, several
/// microseconds of that thread's time: the event loop's time, which is the
/// user's), so under load the wake-ups are spaced at least `window` apart
/// and the calls that finish meanwhile ride along. The wait is bounded to a
/// small share of what the calls take anyway: pacing is on only while the
/// recent service calls (an average of their time from submission to
/// completion) take at least `LATENCY_FACTOR` windows, so it never adds
/// more than about 1/20 to a call's time; a hand-off when the last one was
/// longer ago than a window (a quiet moment, a lone call) goes at once.
/// The timer's granularity is a millisecond. `WML_NATIVE_BATCH_WINDOW_MS`
/// sets the window (0 turns pacing off).
pub struct Pacer {
    epoch: std::time::Instant,
    /// When the last hand-off went, µs after `epoch` (0: never).
    last: std::sync::atomic::AtomicU64,
    /// Recent call time, µs (an exponential moving average).
    latency: std::sync::atomic::AtomicU64,
    window: std::time::Duration,
}

/// The default spacing of hand-offs under load.
pub const DEFAULT_BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(1);
/// Pacing is on while calls take at least this many windows.
pub const LATENCY_FACTOR: u32 = 20;

impl Pacer {
    pub fn new(window: std::time::Duration) -> Self {
        Pacer {
            epoch: std::time::Instant::now(),
            last: Default::default(),
            latency: Default::default(),
            window,
        }
    }

    /// With the window from `WML_NATIVE_BATCH_WINDOW_MS` (a whole number of
    /// ms; default 1).
    pub fn from_env() -> Self {
        static WINDOW: OnceLock<std::time::Duration> = OnceLock::new();
        Pacer::new(*WINDOW.get_or_init(|| {
            std::env::var("WML_NATIVE_BATCH_WINDOW_MS")
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(DEFAULT_BATCH_WINDOW, std::time::Duration::from_millis)
        }))
    }

    /// Records how long a service call took, submission to completion.
    pub fn took(&self, d: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let us = d.as_micros().min(u128::from(u32::MAX)) as u64;
        let old = self.latency.load(Relaxed);
        // new = old + (sample - old) / 8; races between threads only blur it.
        let new = if old == 0 { us } else { (old * 7 + us) / 8 };
        self.latency.store(new.max(1), Relaxed);
    }

    /// How long to hold a hand-off that is ready now: `None` to send it now.
    pub fn hold(&self) -> Option<std::time::Duration> {
        use std::sync::atomic::Ordering::Relaxed;
        let last = self.last.load(Relaxed);
        if last == 0 || self.window.is_zero() {
            return None;
        }
        let slow_enough = u128::from(self.latency.load(Relaxed))
            >= self.window.as_micros() * u128::from(LATENCY_FACTOR);
        if !slow_enough {
            return None;
        }
        let due = std::time::Duration::from_micros(last) + self.window;
        due.checked_sub(self.epoch.elapsed())
            .filter(|d| !d.is_zero())
    }

    /// Records a hand-off made now.
    pub fn sent(&self) {
        let now = self.epoch.elapsed().as_micros().max(1) as u64;
        self.last.store(now, std::sync::atomic::Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_pacer_sends_at_once_when_quiet_and_holds_within_its_window() {
        let p = Pacer::new(Duration::from_millis(50));
        assert_eq!(p.hold(), None, "the first hand-off goes at once");
        p.sent();
        p.took(Duration::from_millis(100));
        assert_eq!(
            p.hold(),
            None,
            "calls of 100 ms are too quick for a 50 ms window"
        );
        for _ in 0..40 {
            p.took(Duration::from_secs(2));
        }
        let held = p.hold().expect("a hand-off right after another is held");
        assert!(held <= Duration::from_millis(50) && held > Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(p.hold(), None, "after the window it goes at once again");
        let off = Pacer::new(Duration::ZERO);
        off.sent();
        assert_eq!(off.hold(), None, "a zero window never holds");
    }
}
