//! Tokens: the token sources (one per kind of credential), JWT claims, and
//! the process-wide cache they all share.

pub mod assume;
pub mod bearer;
pub mod cache;
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
use std::sync::{Arc, OnceLock};

/// The cache shared by every caller in the process (all threads and workers).
pub fn global_cache() -> &'static Arc<TokenCache> {
    static CACHE: OnceLock<Arc<TokenCache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        TokenCache::new(
            Arc::new(SystemClock::new()),
            cache::DEFAULT_CAPACITY,
            crate::runtime::handle(),
        )
    })
}
