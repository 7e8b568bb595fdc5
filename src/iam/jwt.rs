//! Reads the `iat` and `exp` claims of an IAM access token. Like IBM's own
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
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let payload = payload.trim_end_matches('=');
    if payload.len() > 64 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let iat = seconds(claims.get("iat")?)?;
    let exp = seconds(claims.get("exp")?)?;
    (exp > iat).then_some(Lifetime { iat, exp })
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
mod tests {
    use super::*;

    #[test]
    fn reads_iat_and_exp() {
        let t = make_token(r#"{"iam_id":"x","iat":1700000000,"exp":1700003600}"#);
        assert_eq!(
            lifetime(&t),
            Some(Lifetime {
                iat: 1_700_000_000,
                exp: 1_700_003_600
            })
        );
        let f = make_token(r#"{"iat":1.7e9,"exp":1700000060.5}"#);
        assert_eq!(lifetime(&f).map(|l| l.exp - l.iat), Some(60));
    }

    #[test]
    fn rejects_what_is_not_a_usable_jwt() {
        for bad in [
            String::new(),
            "abc".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            "a.!!!.c".into(),
            make_token("not json"),
            make_token(r#"{"iat":10}"#),
            make_token(r#"{"iat":10,"exp":5}"#),
            make_token(r#"{"iat":"10","exp":"20"}"#),
            make_token(r#"{"iat":1e300,"exp":1e301}"#),
            make_token(r#"[1,2]"#),
        ] {
            assert_eq!(lifetime(&bad), None, "{bad}");
        }
    }

    #[test]
    fn accepts_padded_payloads() {
        let e = &base64::engine::general_purpose::URL_SAFE;
        let t = format!("h.{}.s", e.encode(r#"{"iat":1,"exp":2}"#));
        assert_eq!(lifetime(&t), Some(Lifetime { iat: 1, exp: 2 }));
    }
}
