//! How a caller authenticates: a token source through the cache, a bearer
//! token the caller manages, or nothing. The one type behind both the
//! authenticator class (`NativeAuthenticator`) and the WML client.

use super::bearer::StaticBearer;
use super::cache::{Token, TokenCache};
use super::source::TokenSource;
use crate::error::Result;
use crate::secret::Secret;
use crate::telemetry::CallTrace;
use reqwest::header::HeaderValue;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub enum Caller {
    /// A token source, its tokens from the cache.
    Cached(Cached),
    /// A token the caller manages and may replace.
    Bearer(Arc<StaticBearer>),
    /// No `Authorization` header.
    None,
}

/// A token source and the cache its tokens come from. Its entry is found by
/// key on each use: that keeps it recently used in the (LRU) cache, makes it
/// anew once the cache has dropped it, and a request a miss (`get`) starts
/// goes with this source's settings (timeouts, retries); a due refresh a hit
/// (`peek`) starts goes with the entry's, as the last `get` set them.
#[derive(Clone)]
pub struct Cached {
    source: Arc<dyn TokenSource>,
    cache: Arc<TokenCache>,
}

impl Cached {
    pub fn new(source: Arc<dyn TokenSource>, cache: Arc<TokenCache>) -> Self {
        Cached { source, cache }
    }

    pub fn source(&self) -> &Arc<dyn TokenSource> {
        &self.source
    }

    /// A usable cached token (starting a due background refresh), or `None`:
    /// then `get`.
    pub fn peek(&self) -> Option<Arc<Token>> {
        self.cache.peek(self.source.key())
    }

    /// A usable token, waiting for the cache's single request when there is
    /// none.
    pub async fn get(&self) -> Result<Arc<Token>> {
        let entry = self.cache.entry(self.source.clone());
        self.cache.get(&entry).await
    }

    /// Drops the cached token (with `only`, only if that is still the
    /// current one: many callers refusing one token cause one refresh).
    pub fn invalidate(&self, only: Option<&Arc<Token>>) {
        if let Some(entry) = self.cache.lookup(self.source.key()) {
            self.cache.invalidate(&entry, only);
        }
    }
}

/// What one request presented: its `Authorization` value (none without
/// auth) and the cache's token behind it.
#[derive(Clone)]
pub struct Presented {
    pub header: Option<HeaderValue>,
    token: Option<Arc<Token>>,
}

impl Presented {
    /// Whether the token came from the cache (a refused one can be
    /// replaced by a new one).
    pub fn refreshable(&self) -> bool {
        self.token.is_some()
    }

    /// The token text, to scrub from service messages.
    pub fn secret(&self) -> Option<Secret> {
        self.header
            .as_ref()?
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(Secret::new)
    }
}

impl Caller {
    /// The `Authorization` for the next request (a traced call hears
    /// whether it had to wait for the token).
    pub async fn present(&self, trace: Option<&CallTrace>) -> Result<Presented> {
        match self {
            Caller::Bearer(b) => {
                if let Some(t) = trace {
                    t.auth("bearerToken");
                }
                Ok(Presented {
                    header: Some(b.current()?.header.clone()),
                    token: None,
                })
            }
            Caller::None => {
                if let Some(t) = trace {
                    t.auth("noAuth");
                }
                Ok(Presented {
                    header: None,
                    token: None,
                })
            }
            Caller::Cached(c) => {
                // A usable cached token is taken as the authenticator's
                // `peek` takes it (one lookup, no wait); only a miss goes
                // through `get`.
                let kind = c.source.key().kind;
                let token = match c.peek() {
                    Some(token) => {
                        if let Some(t) = trace {
                            t.token_hit(kind);
                        }
                        token
                    }
                    None => {
                        let since = Instant::now();
                        let r = c.get().await;
                        if let Some(t) = trace {
                            t.token_waited(kind, since, r.as_ref().err());
                        }
                        r?
                    }
                };
                Ok(Presented {
                    header: Some(token.bearer.clone()),
                    token: Some(token),
                })
            }
        }
    }

    /// The service refused what `p` presented: the cached token goes (if
    /// still current), so the next request gets a new one. A caller's own
    /// bearer token stays (only the caller replaces it).
    pub fn refuse(&self, p: &Presented) {
        if let (Caller::Cached(c), Some(token)) = (self, &p.token) {
            c.invalidate(Some(token));
        }
    }
}
