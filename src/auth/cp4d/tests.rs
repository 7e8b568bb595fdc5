use super::*;
use crate::testutil::{FakeIam, Reply};

fn options(url: &str) -> Cp4dOptions {
    Cp4dOptions {
        url: Some(url.into()),
        username: Some("admin".into()),
        password: Some(Secret::new("cpd-password-secret")),
        apikey: None,
        transport: TransportOptions {
            max_retries: Some(0.0),
            ..Default::default()
        },
    }
}

#[test]
fn the_three_url_spellings_reach_the_authorize_endpoint() {
    for u in [
        "https://cpd.example.com",
        "https://cpd.example.com/",
        "https://cpd.example.com/icp4d-api",
        "https://cpd.example.com/icp4d-api/",
        "https://cpd.example.com/icp4d-api/v1/authorize",
    ] {
        assert_eq!(
            authorize_url(u).unwrap(),
            "https://cpd.example.com/icp4d-api/v1/authorize",
            "{u}"
        );
    }
    // sdk-core's rule for a URL already ending in /v1/authorize: as given.
    assert_eq!(
        authorize_url("https://tokens.example.com/v1/authorize").unwrap(),
        "https://tokens.example.com/v1/authorize"
    );
    for bad in ["", "http://cpd.example.com", "https://cpd.example.com?x=1"] {
        assert!(authorize_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn exactly_one_of_password_and_apikey_and_a_username() {
    let url = "https://cpd.example.com";
    let mut both = options(url);
    both.apikey = Some(Secret::new("k"));
    assert!(Cp4dSource::new(&both).is_err());
    let mut neither = options(url);
    neither.password = Some(Secret::new(""));
    assert!(Cp4dSource::new(&neither).is_err());
    let mut nobody = options(url);
    nobody.username = None;
    assert!(Cp4dSource::new(&nobody).is_err());
    let pw = Cp4dSource::new(&options(url)).unwrap();
    let mut k = options(url);
    k.password = None;
    k.apikey = Some(Secret::new("cpd-password-secret"));
    let k = Cp4dSource::new(&k).unwrap();
    assert!(
        !pw.key().matches(k.key()),
        "a password and an API key with equal text differ"
    );
    assert!(!pw.describe().contains("cpd-password-secret"));
    assert!(!format!("{:?}", options(url)).contains("cpd-password-secret"));
}

#[tokio::test]
async fn posts_json_and_reads_the_token() {
    let srv = FakeIam::start().await;
    let src = Cp4dSource::new(&options(&format!("{}/icp4d-api", srv.url))).unwrap();
    let f = src.fetch().await.unwrap();
    assert!(!f.access_token.is_empty());
    let (head, body) = srv.token_requests.lock()[0].clone();
    assert!(head.starts_with("POST /icp4d-api/v1/authorize "), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    assert_eq!(
        body,
        r#"{"password":"cpd-password-secret","username":"admin"}"#
    );

    let mut k = options(&srv.url);
    k.password = None;
    k.apikey = Some(Secret::new("cpd-apikey"));
    Cp4dSource::new(&k).unwrap().fetch().await.unwrap();
    assert_eq!(
        srv.token_requests.lock()[1].1,
        r#"{"api_key":"cpd-apikey","username":"admin"}"#
    );
}

#[tokio::test]
async fn a_wrong_password_is_the_services_error_without_the_password() {
    let srv = FakeIam::start().await;
    srv.push(Reply::Raw(
        401,
        "application/json",
        r#"{"_messageCode_":"401","message":"Invalid username or password cpd-password-secret."}"#
            .into(),
        None,
    ));
    let e = Cp4dSource::new(&options(&srv.url))
        .unwrap()
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_AUTH");
    assert_eq!(e.status(), Some(401));
    assert!(
        !e.message().contains("cpd-password-secret"),
        "{}",
        e.message()
    );
    assert_eq!(srv.hits(), 1, "401 is not retried");
}

#[tokio::test]
async fn overload_is_retried_with_retry_after() {
    let srv = FakeIam::start().await;
    srv.push(Reply::Raw(
        503,
        "application/json",
        r#"{"_messageCode_":"503","message":"busy"}"#.into(),
        Some("0"),
    ));
    let mut o = options(&srv.url);
    o.transport.max_retries = Some(2.0);
    Cp4dSource::new(&o).unwrap().fetch().await.unwrap();
    assert_eq!(srv.hits(), 2);
}
