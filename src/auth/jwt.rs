//! Reads the `iat` and `exp` claims of an access token (a JWT). Like IBM's own
//! SDK cores it does not verify the signature: the token came straight from
//! IAM over TLS, and only its lifetime is needed.

use base64::Engine;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub iat: i64,
    pub exp: i64,
}

/// The `iat`/`exp` claims, or `None` if the token is not a JWT or lacks a
/// sane pair (`exp` after `iat`). Never panics, whatever the input.
pub fn lifetime(token: &str) -> Option<Lifetime> {
    let c = claims(token)?;
    let (iat, exp) = (c.iat?, c.exp?);
    (exp > iat).then_some(Lifetime { iat, exp })
}

/// The time claims a JWT carries, each if present and numeric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    pub iat: Option<i64>,
    pub exp: Option<i64>,
}

/// The `iat` and `exp` claims of a JWT (unverified), or `None` if `token`
/// is not a JWT with a JSON object payload.
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
