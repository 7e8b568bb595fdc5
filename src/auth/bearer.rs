//! A bearer token the caller manages (`BearerTokenAuthenticator`, and
//! `WmlClient({ url, token })`): no token service, no cache entry. The
//! caller may replace it at any time (`setBearerToken`); the next request
//! uses the new one. A token whose JWT `exp` has passed is refused with a
//! clear error instead of being sent (the service would answer 401).

use super::jwt;
use crate::error::{Error, Result};
use crate::secret::Secret;
use parking_lot::RwLock;
use reqwest::header::HeaderValue;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// One token as given: its text, its header, its JWT time claims.
pub struct Given {
    pub token: Secret,
    pub header: HeaderValue,
    pub claims: jwt::Claims,
}

impl std::fmt::Debug for Given {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Given")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// The caller's current token.
#[derive(Debug)]
pub struct StaticBearer(RwLock<Arc<Given>>);

impl StaticBearer {
    pub fn new(token: Secret) -> Result<Self> {
        Ok(StaticBearer(RwLock::new(Arc::new(given(token)?))))
    }

    /// Replaces the token (checked first: on an error the old one stays).
    pub fn set(&self, token: Secret) -> Result<()> {
        let g = given(token)?;
        *self.0.write() = Arc::new(g);
        Ok(())
    }

    /// The token for a request now, unless its JWT says it has expired.
    pub fn current(&self) -> Result<Arc<Given>> {
        let g = self.0.read().clone();
        check_expiry(&g.claims, jwt::wall_secs())?;
        Ok(g)
    }
}

fn given(token: Secret) -> Result<Given> {
    if token.expose().trim().is_empty() {
        return Err(Error::invalid(
            "the bearer token must be a non-empty string",
        ));
    }
    let header = authorization(&token)
        .ok_or_else(|| Error::invalid("the bearer token has characters not allowed in a header"))?;
    let claims = jwt::claims(token.expose()).unwrap_or_default();
    Ok(Given {
        token,
        header,
        claims,
    })
}

/// `Bearer <token>` as a header value marked sensitive, or None if the
/// token has characters a header may not hold.
pub fn authorization(token: &Secret) -> Option<HeaderValue> {
    let text = zeroize::Zeroizing::new(format!("Bearer {}", token.expose()));
    let mut value = HeaderValue::from_str(&text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Refuses a token whose `exp` is at or before `now` (epoch seconds).
pub fn check_expiry(c: &jwt::Claims, now: i64) -> Result<()> {
    match c.exp {
        Some(exp) if exp <= now => {
            let when = u64::try_from(exp)
                .ok()
                .map(|e| httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(e)))
                .unwrap_or_else(|| exp.to_string());
            Err(Error::invalid(format!(
                "the bearer token expired at {when} ({} s ago, by its JWT exp): nothing was sent; give a new token (BearerTokenAuthenticator.setBearerToken)",
                now - exp
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
