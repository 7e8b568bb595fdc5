//! `wml_native::auth::jwt::claims` and `Claims::life_secs` on arbitrary
//! input: no panic, and a life is only given for a sane pair (`exp` after
//! `iat`), as `exp - iat`.
//!
//! Each input is tried four ways:
//! 1. as a whole token, from lossy UTF-8;
//! 2. as the payload of a well-formed `header.payload.sig` (base64url, no
//!    padding), so the bytes reach the JSON parser and the claim reader;
//! 3. the same with `=` padding, which must read the same;
//! 4. as two i64 claims written into a real JSON payload, where the answer
//!    is known exactly: `Some` iff `exp > iat`, with those very values.
#![no_main]

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use wml_native::auth::jwt::claims;

const HEADER: &str = r#"{"alg":"RS256","kid":"20240101"}"#;

/// `(iat, exp)` when the token's claims give it a life, checking that life.
fn check(token: &str) -> Option<(i64, i64)> {
    let c = claims(token)?;
    let life = c.life_secs()?;
    let (iat, exp) = (c.iat?, c.exp?);
    assert!(exp > iat, "life_secs() gave a life for exp <= iat: {c:?}");
    assert_eq!(Some(life), exp.checked_sub(iat), "{c:?}");
    Some((iat, exp))
}

fn token_with(payload: &[u8], padded: bool) -> String {
    let p = if padded {
        URL_SAFE.encode(payload)
    } else {
        URL_SAFE_NO_PAD.encode(payload)
    };
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        p,
        URL_SAFE_NO_PAD.encode("sig")
    )
}

fuzz_target!(|data: &[u8]| {
    // 1. Arbitrary text as a token.
    check(&String::from_utf8_lossy(data));

    // 2./3. Arbitrary bytes as the claims of a well-formed token.
    let plain = check(&token_with(data, false));
    let padded = check(&token_with(data, true));
    assert_eq!(plain, padded, "padding changed the answer");

    // 4. Two integer claims, with an exact expected answer.
    if data.len() >= 16 {
        let iat = i64::from_le_bytes(data[..8].try_into().unwrap());
        let exp = i64::from_le_bytes(data[8..16].try_into().unwrap());
        // The rest of the input adds other claims, so the reader has to find
        // iat/exp among them (as in a real IAM token).
        let extra = String::from_utf8_lossy(&data[16..]);
        let claims =
            serde_json::json!({ "iam_id": extra, "iat": iat, "exp": exp, "scope": "ibm openid" });
        let got = check(&token_with(claims.to_string().as_bytes(), false));
        let want = (exp > iat && exp.checked_sub(iat).is_some()).then_some((iat, exp));
        assert_eq!(got, want, "iat={iat} exp={exp}");
    }
});
