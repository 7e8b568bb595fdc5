use super::*;
use crate::auth::jwt::make_token;

#[test]
fn a_live_or_opaque_token_is_served_and_replaced() {
    let b = StaticBearer::new(Secret::new("opaque-token")).unwrap();
    assert_eq!(b.current().unwrap().token.expose(), "opaque-token");
    let live = make_token(&format!(r#"{{"iat":1,"exp":{}}}"#, jwt::wall_secs() + 600));
    b.set(Secret::new(live.clone())).unwrap();
    let g = b.current().unwrap();
    assert_eq!(g.token.expose(), live);
    assert!(g.header.is_sensitive());
    assert!(!format!("{b:?}").contains(&live));
}

#[test]
fn an_expired_jwt_is_refused_and_a_bad_replacement_keeps_the_old_one() {
    let expired = make_token(r#"{"iat":1700000000,"exp":1700003600}"#);
    let b = StaticBearer::new(Secret::new(expired.clone())).unwrap();
    let e = b.current().unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    assert!(
        e.message().contains("expired at Tue, 14 Nov 2023"),
        "{}",
        e.message()
    );
    assert!(!e.message().contains(&expired));
    assert!(b.set(Secret::new("a\r\nb")).is_err());
    assert!(b.set(Secret::new("")).is_err());
    b.set(Secret::new("fresh")).unwrap();
    assert_eq!(b.current().unwrap().token.expose(), "fresh");
    assert!(check_expiry(
        &jwt::Claims {
            iat: None,
            exp: Some(10)
        },
        9
    )
    .is_ok());
    assert!(check_expiry(
        &jwt::Claims {
            iat: None,
            exp: Some(10)
        },
        10
    )
    .is_err());
}
