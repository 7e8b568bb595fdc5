use super::*;

#[test]
fn debug_and_display_never_show_the_value() {
    let s = Secret::new("my-api-key-123");
    assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    assert_eq!(format!("{s}"), "<redacted>");
    assert_eq!(s.expose(), "my-api-key-123");
}

#[test]
fn matches_is_exact() {
    let s = Secret::new("abcd");
    assert!(s.matches("abcd"));
    assert!(!s.matches("abce"));
    assert!(!s.matches("abc"));
    assert!(!s.matches(""));
}

#[test]
fn scrub_replaces_every_occurrence() {
    let out = scrub("key k3y-secret and again k3y-secret", &["k3y-secret", ""]);
    assert_eq!(out, "key <redacted> and again <redacted>");
}

#[test]
fn scrub_json_reaches_escaped_secrets_and_keys() {
    // Each as a service would write it in JSON: escaped.
    for secret in AWKWARD_SECRETS {
        let escaped = as_service_writes(&serde_json::json!({
            "errors": [{ "message": format!("bad key {secret}"), "code": secret }],
            secret: [secret, 1, null],
            "trace": format!("{secret}{secret}"),
        }));
        assert!(
            !escaped.contains(secret),
            "the text must hold it escaped only"
        );
        let mut v: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        scrub_json(&mut v, &[secret]);
        assert_hidden(&format!("{v} {v:?}"), secret);
        assert_eq!(v["errors"][0]["message"], "bad key <redacted>");
        assert_eq!(v["<redacted>"][0], "<redacted>");
        assert_eq!(v["trace"], "<redacted><redacted>");
    }
}
