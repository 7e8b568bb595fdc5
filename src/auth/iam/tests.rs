use super::*;
use crate::http::{Answer, TransportOptions};
use reqwest::header::HeaderMap;

fn answer(status: u16, body: &[u8], ctype: &str, transaction_id: Option<&str>) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", ctype.parse().unwrap());
    if let Some(t) = transaction_id {
        headers.insert("transaction-id", t.parse().unwrap());
    }
    Answer {
        status,
        headers,
        body: body.to_vec(),
        server_date: None,
        retry_after: None,
    }
}

#[test]
fn canonical_base_strips_slashes_and_token_path() {
    assert_eq!(canonical_base(None), DEFAULT_IAM_URL);
    for u in [
        "https://iam.cloud.ibm.com",
        "https://iam.cloud.ibm.com/",
        "https://iam.cloud.ibm.com//",
        "https://iam.cloud.ibm.com/identity/token",
        "https://iam.cloud.ibm.com/identity/token/",
        " https://iam.cloud.ibm.com ",
    ] {
        assert_eq!(canonical_base(Some(u)), "https://iam.cloud.ibm.com", "{u}");
    }
}

#[test]
fn config_validates_and_normalises() {
    let c = IamConfig::new(&IamOptions {
        url: Some("https://iam.test.cloud.ibm.com/identity/token/".into()),
        client_id: Some("bx".into()),
        client_secret: Some(Secret::new("bx")),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.token_url, "https://iam.test.cloud.ibm.com/identity/token");
    assert_eq!(c.client_id.as_deref(), Some("bx"));
    assert_eq!(c.transport.timeout, DEFAULT_TIMEOUT);
    assert_eq!(c.transport.max_retries, 3);

    // Basic auth only when both halves are set.
    let c = IamConfig::new(&IamOptions {
        client_id: Some("bx".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(c.client_id.is_none() && c.client_secret.is_none());

    for o in [
        IamOptions {
            url: Some("http://iam.cloud.ibm.com".into()),
            ..Default::default()
        },
        IamOptions {
            transport: TransportOptions {
                timeout_ms: Some(0.0),
                ..Default::default()
            },
            ..Default::default()
        },
        IamOptions {
            transport: TransportOptions {
                timeout_ms: Some(f64::NAN),
                ..Default::default()
            },
            ..Default::default()
        },
        IamOptions {
            transport: TransportOptions {
                max_retries: Some(-1.0),
                ..Default::default()
            },
            ..Default::default()
        },
        IamOptions {
            transport: TransportOptions {
                headers: vec![("bad header".into(), "x".into())],
                ..Default::default()
            },
            ..Default::default()
        },
    ] {
        assert_eq!(IamConfig::new(&o).unwrap_err().code(), "ERR_INVALID_ARG");
    }
}

#[test]
fn debug_output_hides_secrets() {
    let c = IamConfig::new(&IamOptions {
        client_id: Some("bx".into()),
        client_secret: Some(Secret::new("client-secret-value")),
        ..Default::default()
    })
    .unwrap();
    assert!(!format!("{c:?}").contains("client-secret-value"));
    let o = IamOptions {
        client_secret: Some(Secret::new("client-secret-value")),
        transport: TransportOptions {
            headers: vec![("X-Api-Key".into(), "header-secret-value".into())],
            ..Default::default()
        },
        ..Default::default()
    };
    let shown = format!("{o:?}");
    assert!(shown.contains("X-Api-Key"));
    assert!(!shown.contains("header-secret-value") && !shown.contains("client-secret-value"));
    let body = br#"{"access_token":"tok-value-123","expires_in":3600}"#;
    let f =
        service::token_of(&answer(200, body, "application/json", None), "access_token").unwrap();
    assert!(!format!("{f:?}").contains("tok-value-123"));
}

#[test]
fn iam_errors_are_short_and_scrubbed() {
    let key = Secret::new("the-api-key-value");
    let body = br#"{"errorCode":"BXNIM0415E","errorMessage":"Provided API key the-api-key-value could not be found.","context":{"requestId":"abc-123"}}"#;
    let e = iam_error(
        IAM,
        &answer(400, body, "application/json", None),
        &[key.expose()],
    );
    assert_eq!(e.code(), "ERR_IAM");
    assert_eq!(e.status(), Some(400));
    assert!(!e.message().contains("the-api-key-value"));
    assert!(e.message().contains("BXNIM0415E"));
    match &e {
        Error::Iam {
            iam_error_code,
            request_id,
            ..
        } => {
            assert_eq!(iam_error_code.as_deref(), Some("BXNIM0415E"));
            assert_eq!(request_id.as_deref(), Some("abc-123"));
        }
        _ => unreachable!(),
    }
    let page = format!(
        "<html><title>502 Bad Gateway</title>{}</html>",
        "x".repeat(5000)
    );
    let e = iam_error(
        IAM,
        &answer(502, page.as_bytes(), "text/html", Some("t-1")),
        &[key.expose()],
    );
    assert!(e.message().len() < 200, "{}", e.message());
    assert!(e.message().contains("502 Bad Gateway"));
    // The request id from the transaction-id header is scrubbed too.
    let e = iam_error(
        IAM,
        &answer(502, b"", "text/plain", Some("t-the-api-key-value")),
        &[key.expose()],
    );
    assert!(!format!("{e:?}").contains("the-api-key-value"), "{e:?}");
    match &e {
        Error::Iam { request_id, .. } => {
            assert!(request_id.as_deref().is_some_and(|r| r.starts_with("t-")))
        }
        _ => unreachable!(),
    }
}

#[test]
fn escaped_secrets_never_reach_iam_errors() {
    use crate::secret::{as_service_writes, assert_hidden, AWKWARD_SECRETS};
    for secret in AWKWARD_SECRETS {
        let body = as_service_writes(&serde_json::json!({
            "errorCode": format!("E-{secret}"),
            "errorMessage": format!("Provided API key {secret} could not be found."),
            "context": { "requestId": secret },
        }));
        let e = iam_error(
            IAM,
            &answer(400, body.as_bytes(), "application/json", None),
            &[secret],
        );
        assert_hidden(&format!("{e:?}"), secret);
        match &e {
            Error::Iam {
                iam_error_code,
                request_id,
                message,
                ..
            } => {
                assert_eq!(iam_error_code.as_deref(), Some("E-<redacted>"));
                assert_eq!(request_id.as_deref(), Some("<redacted>"));
                assert!(message.contains("API key <redacted> could"), "{message}");
            }
            _ => unreachable!(),
        }
        let page = format!("<html><title>key {secret}</title></html>");
        let e = iam_error(
            IAM,
            &answer(502, page.as_bytes(), "text/html", None),
            &[secret],
        );
        assert!(!format!("{e:?}").contains(secret), "{e:?}");
    }
}

#[tokio::test]
async fn the_client_secret_is_scrubbed_without_the_caller_naming_it() {
    let iam = crate::testutil::FakeIam::start().await;
    let secret = r#"client"secret\1"#;
    let body = serde_json::json!({
        "errorCode": "BXNIM0400E",
        "errorMessage": format!("client secret {secret} is wrong"),
        "details": secret,
    });
    iam.push(crate::testutil::Reply::Raw(
        401,
        "application/json",
        body.to_string(),
        None,
    ));
    let cfg = IamConfig::new(&IamOptions {
        url: Some(iam.url.clone()),
        client_id: Some("bx".into()),
        client_secret: Some(Secret::new(secret)),
        ..Default::default()
    })
    .unwrap();
    let e = cfg
        .request(&[("grant_type", APIKEY_GRANT), ("apikey", "k-1234")], &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_IAM");
    assert!(
        e.message().contains("client secret <redacted> is wrong"),
        "{}",
        e.message()
    );
    let shown = format!("{e:?}");
    assert!(
        !shown.contains(secret) && !shown.contains(r#"client\"secret"#),
        "{shown}"
    );
}

#[test]
fn derived_debug_shows_no_key_or_token() {
    let body = br#"{"access_token":"tok-value-123","refresh_token":"refresh-value-456","expires_in":3600}"#;
    let f =
        service::token_of(&answer(200, body, "application/json", None), "access_token").unwrap();
    let cfg = IamConfig::new(&IamOptions {
        client_id: Some("bx".into()),
        client_secret: Some(Secret::new("client-secret-value")),
        ..Default::default()
    })
    .unwrap();
    let src = ApikeySource::new(Secret::new("the-api-key-value"), cfg).unwrap();
    let shown = format!("{f:?} {:?} {:?}", src.key(), src.key().clone());
    for secret in [
        "tok-value-123",
        "refresh-value-456",
        "the-api-key-value",
        "client-secret-value",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}
