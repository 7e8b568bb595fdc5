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
