//! IBM Cloud IAM: the token exchange, JWT claims, and the process-wide cache.

pub mod cache;
pub mod exchange;
pub mod jwt;

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
