//! The one tokio runtime every request and background refresh runs on. Its
//! threads are not Node handles, so they never keep the event loop alive.

use std::sync::OnceLock;
use tokio::runtime::{Builder, Handle, Runtime};

pub fn handle() -> Handle {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wml-native")
            .enable_all()
            .build()
            .expect("cannot start the wml-native I/O threads")
    })
    .handle()
    .clone()
}
