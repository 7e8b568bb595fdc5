use super::*;

#[test]
fn every_variant_has_a_listed_code() {
    let all = [
        Error::invalid("x"),
        Error::Iam {
            status: 400,
            message: "m".into(),
            iam_error_code: None,
            request_id: None,
        },
        Error::Auth(Box::new(AuthFailure {
            status: 401,
            service: "cp4d",
            message: "m".into(),
            error_code: None,
            errors: None,
            trace: None,
            request_id: None,
        })),
        Error::Wml {
            status: 404,
            message: "m".into(),
            errors: None,
            trace: None,
        },
        Error::Timeout("t".into()),
        Error::Network("n".into()),
        Error::Tls("t".into()),
        Error::BadResponse {
            status: 200,
            message: "b".into(),
        },
        Error::Aborted,
        Error::internal("x"),
    ];
    assert_eq!(all.len(), CODES.len());
    for (e, (code, _)) in all.iter().zip(CODES) {
        assert_eq!(e.code(), *code);
    }
    assert_eq!(Error::Timeout("t".into()).status(), None);
    assert_eq!(all[2].status(), Some(401));
    assert_eq!(all[3].status(), Some(404));
    assert!(Error::internal("a panic").message().contains("a panic"));
}
