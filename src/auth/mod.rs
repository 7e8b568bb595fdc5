//! Tokens: the token sources (one per kind of credential), JWT claims, and
//! the process-wide cache they all share.

pub mod assume;
pub mod bearer;
pub mod cache;
pub mod caller;
pub mod container;
pub mod cp4d;
pub mod iam;
pub mod jwt;
pub mod mcsp;
pub mod profile;
pub mod service;
pub mod source;
pub mod vpc;

use cache::{SystemClock, TokenCache};
use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};

/// Why the token store the environment names is not used, until someone
/// takes the message to show it (`take_env_problem`).
static ENV_PROBLEM: Mutex<Option<String>> = Mutex::new(None);

/// The cache shared by every caller in the process (all threads and
/// workers). Made on first use, with the token store the environment names
/// (`WML_NATIVE_TOKEN_STORE`, `WML_NATIVE_TOKEN_STORE_KEY`), if any.
pub fn global_cache() -> &'static Arc<TokenCache> {
    static CACHE: OnceLock<Arc<TokenCache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let cache = TokenCache::new(
            Arc::new(SystemClock::new()),
            cache::DEFAULT_CAPACITY,
            crate::runtime::handle(),
        );
        match cache::fleet::store_from_env() {
            Ok(store) => cache.set_store(store),
            Err(problem) => {
                crate::log::debug!("{problem}");
                *ENV_PROBLEM.lock() = Some(problem);
            }
        }
        cache
    })
}

/// The problem with the environment's token store settings, once (the first
/// caller gets it, to warn the user).
pub fn take_env_problem() -> Option<String> {
    global_cache();
    ENV_PROBLEM.lock().take()
}
