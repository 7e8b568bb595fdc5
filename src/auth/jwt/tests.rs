use super::*;

#[test]
fn reads_iat_and_exp() {
    let t = make_token(r#"{"iam_id":"x","iat":1700000000,"exp":1700003600}"#);
    assert_eq!(
        claims(&t),
        Some(Claims {
            iat: Some(1_700_000_000),
            exp: Some(1_700_003_600)
        })
    );
    assert_eq!(claims(&t).and_then(|c| c.life_secs()), Some(3600));
    let f = make_token(r#"{"iat":1.7e9,"exp":1700000060.5}"#);
    assert_eq!(claims(&f).and_then(|c| c.life_secs()), Some(60));
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
        assert_eq!(claims(&bad).and_then(|c| c.life_secs()), None, "{bad}");
    }
}

#[test]
fn accepts_padded_payloads() {
    let e = &base64::engine::general_purpose::URL_SAFE;
    let t = format!("h.{}.s", e.encode(r#"{"iat":1,"exp":2}"#));
    assert_eq!(claims(&t).and_then(|c| c.life_secs()), Some(1));
}
