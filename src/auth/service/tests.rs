use super::*;
use reqwest::header::HeaderMap;

fn answer(status: u16, body: &str) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    Answer {
        status,
        headers,
        body: body.as_bytes().to_vec(),
        server_date: None,
        retry_after: None,
    }
}

fn failure(e: Error) -> AuthFailure {
    match e {
        Error::Auth(f) => *f,
        other => panic!("not ERR_AUTH: {other:?}"),
    }
}

#[test]
fn vpc_errors_keep_code_errors_and_trace() {
    let body = r#"{"errors":[{"code":"invalid_value","message":"The `expires_in` field must not exceed `3600`.","more_info":"https://cloud.ibm.com/docs/vpc","target":{"name":"expires_in","type":"field","value":"7200"}}],"status_code":400,"trace":"e378"}"#;
    let e = service_error(VPC, &answer(400, body), &[]);
    assert_eq!(e.code(), "ERR_AUTH");
    assert_eq!(e.status(), Some(400));
    let f = failure(e);
    assert_eq!(f.service, "vpc");
    assert_eq!(f.error_code.as_deref(), Some("invalid_value"));
    assert_eq!(f.trace.as_deref(), Some("e378"));
    assert_eq!(f.errors.as_ref().unwrap()[0]["target"]["value"], "7200");
    assert!(f.message.contains("must not exceed"), "{}", f.message);
    assert!(f.message.contains("(invalid_value)"), "{}", f.message);
}

#[test]
fn cp4d_and_mcsp_shapes() {
    let f = failure(service_error(
        CP4D,
        &answer(
            401,
            r#"{"_messageCode_":"401","message":"Invalid username or password."}"#,
        ),
        &[],
    ));
    assert_eq!(f.error_code.as_deref(), Some("401"));
    assert_eq!(
        f.message,
        "Cloud Pak for Data answered 401: Invalid username or password. (401)"
    );
    let f = failure(service_error(
        MCSP,
        &answer(
            400,
            r#"{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found.","context":{"requestId":"r-1"}}"#,
        ),
        &[],
    ));
    assert_eq!(f.error_code.as_deref(), Some("BXNIM0415E"));
    assert_eq!(f.request_id.as_deref(), Some("r-1"));
}

#[test]
fn secrets_are_scrubbed_everywhere_and_pages_described() {
    let body = r#"{"errors":[{"code":"bad","message":"password hunter2-secret is wrong","target":{"value":"hunter2-secret"}}],"trace":"t"}"#;
    let f = failure(service_error(VPC, &answer(400, body), &["hunter2-secret"]));
    assert!(!f.message.contains("hunter2-secret"));
    assert!(!f.errors.unwrap().to_string().contains("hunter2-secret"));
    let mut page = answer(
        502,
        "<html><title>502 Bad Gateway</title>hunter2-secret</html>",
    );
    page.headers
        .insert("content-type", "text/html".parse().unwrap());
    let f = failure(service_error(CP4D, &page, &["hunter2-secret"]));
    assert!(f.message.contains("502 Bad Gateway"), "{}", f.message);
    assert!(!f.message.contains("hunter2"));
}

/// A page title longer than the description keeps, with the secret where
/// the cut falls: scrubbed before the cut, so no piece of it shows.
#[test]
fn a_secret_cut_by_the_title_length_never_shows_in_part() {
    let secret = "hunter2-secret-that-is-long";
    let title = format!("{}{secret} rejected", "x".repeat(70));
    let mut page = answer(401, &format!("<html><title>{title}</title></html>"));
    page.headers
        .insert("content-type", "text/html".parse().unwrap());
    let f = failure(service_error(CP4D, &page, &[secret]));
    assert!(!f.message.contains("hunter2"), "{}", f.message);
    assert!(f.message.contains("xxx<redacted>"), "{}", f.message);
}

/// A request id from a header is scrubbed as one from the body is (and as
/// IAM's `transaction-id` is).
#[test]
fn a_request_id_header_is_scrubbed() {
    let secret = "hunter2-secret";
    let mut a = answer(500, "{}");
    a.headers
        .insert("x-request-id", format!("r-{secret}").parse().unwrap());
    let f = failure(service_error(MCSP, &a, &[secret]));
    assert_eq!(f.request_id.as_deref(), Some("r-<redacted>"));
}

#[test]
fn token_field_and_lifetime_hints() {
    let a = answer(
        200,
        r#"{"token":"abc.def.ghi","expires_in":3600,"token_type":"Bearer"}"#,
    );
    let f = token_of(&a, "token").unwrap();
    assert_eq!(f.access_token.expose(), "abc.def.ghi");
    assert_eq!(f.expires_in, Some(3600.0));
    assert!(token_of(&a, "access_token").is_none());
    assert!(token_of(&answer(200, r#"{"token":""}"#), "token").is_none());
    assert!(token_of(&answer(200, r#"{"token":5}"#), "token").is_none());
    assert!(token_of(&answer(200, "[]"), "token").is_none());
}

/// Secrets with characters JSON escapes, as the service would write them
/// back: never in the error's message, fields or `Debug`.
#[test]
fn escaped_secrets_never_reach_the_error() {
    use crate::secret::{as_service_writes, assert_hidden, AWKWARD_SECRETS};
    for secret in AWKWARD_SECRETS {
        let body = as_service_writes(&serde_json::json!({
            "errors": [{ "code": secret, "message": format!("bad {secret}"), "target": { secret: secret } }],
            "trace": secret,
            "context": { "requestId": secret },
        }));
        let e = service_error(VPC, &answer(400, &body), &[secret]);
        assert_hidden(&format!("{e:?} {}", e.message()), secret);
        let f = failure(e);
        assert_hidden(&f.errors.unwrap().to_string(), secret);
        assert_eq!(f.trace.as_deref(), Some("<redacted>"));
        assert_eq!(f.error_code.as_deref(), Some("<redacted>"));
        assert_eq!(f.request_id.as_deref(), Some("<redacted>"));
        let mut page = answer(502, &format!("<html><title>no {secret}</title></html>"));
        page.headers
            .insert("content-type", "text/html".parse().unwrap());
        let e = service_error(CP4D, &page, &[secret]);
        assert!(!format!("{e:?}").contains(secret), "{e:?}");
    }
}
