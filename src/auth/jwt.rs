//! Reads the `iat` and `exp` claims of an access token (a JWT). Like IBM's own
//! SDK cores it does not verify the signature: the token came straight from
//! IAM over TLS, and only its lifetime is needed.

use base64::Engine;
use std::time::{SystemTime, UNIX_EPOCH};

/// The time claims a JWT carries, each if present and numeric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    pub iat: Option<i64>,
    pub exp: Option<i64>,
}

impl Claims {
    /// The whole life the issuer gave the token (`exp - iat`), if both are
    /// there and sane (`exp` after `iat`).
    pub fn life_secs(&self) -> Option<i64> {
        match (self.iat, self.exp) {
            (Some(iat), Some(exp)) if exp > iat => exp.checked_sub(iat),
            _ => None,
        }
    }
}

/// The local wall clock, epoch milliseconds (0 before 1970): what token
/// times (`exp`, `expiration`) are compared with.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `wall_ms` in whole seconds.
pub fn wall_secs() -> i64 {
    wall_ms() / 1000
}

/// The `iat` and `exp` claims of a JWT (unverified), or `None` if `token`
/// is not a JWT with a JSON object payload. Never panics, whatever the
/// input.
pub fn claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let payload = payload.trim_end_matches('=');
    if payload.len() > 64 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let obj = claims.as_object()?;
    Some(Claims {
        iat: obj.get("iat").and_then(seconds),
        exp: obj.get("exp").and_then(seconds),
    })
}

fn seconds(v: &serde_json::Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    (f.is_finite() && f.abs() < 1e15).then_some(f as i64)
}

#[cfg(test)]
pub(crate) fn make_token(claims: &str) -> String {
    let e = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        e.encode(r#"{"alg":"RS256","kid":"1"}"#),
        e.encode(claims),
        e.encode("sig")
    )
}

#[cfg(test)]
mod tests;
