use super::*;
use crate::testutil::{FakeIam, Reply};

#[test]
fn token_urls() {
    assert_eq!(
        token_url(Some("https://account-iam.platform.saas.ibm.com")).unwrap(),
        "https://account-iam.platform.saas.ibm.com/api/2.0/apikeys/token"
    );
    assert_eq!(
        token_url(Some("https://account-iam.platform.saas.ibm.com/")).unwrap(),
        "https://account-iam.platform.saas.ibm.com/api/2.0/apikeys/token"
    );
    assert_eq!(
        token_url(Some(
            "https://iam.platform.saas.ibm.com/siusermgr/api/1.0/apikeys/token"
        ))
        .unwrap(),
        "https://iam.platform.saas.ibm.com/siusermgr/api/1.0/apikeys/token"
    );
    assert!(token_url(None).is_err());
    assert!(token_url(Some("http://example.com")).is_err());
}

#[tokio::test]
async fn posts_the_apikey_and_reads_token() {
    let srv = FakeIam::start().await;
    let o = McspOptions {
        url: Some(srv.url.clone()),
        apikey: Secret::new("mcsp-key-secret"),
        transport: TransportOptions::default(),
    };
    let src = McspSource::new(&o).unwrap();
    let f = src.fetch().await.unwrap();
    assert!(!f.access_token.is_empty());
    assert_eq!(f.expires_in, Some(3600.0));
    let (head, body) = srv.token_requests.lock()[0].clone();
    assert!(head.starts_with("POST /api/2.0/apikeys/token "), "{head}");
    assert_eq!(body, r#"{"apikey":"mcsp-key-secret"}"#);
    assert!(!src.describe().contains("mcsp-key-secret"));
    assert!(!format!("{o:?}").contains("mcsp-key-secret"));

    srv.push(Reply::Raw(
        400,
        "application/json",
        r#"{"errorCode":"BXNIM0415E","errorMessage":"Provided API key mcsp-key-secret could not be found."}"#.into(),
        None,
    ));
    let e = src.fetch().await.unwrap_err();
    assert_eq!(e.code(), "ERR_AUTH");
    assert!(!e.message().contains("mcsp-key-secret"));
    assert!(e.message().contains("BXNIM0415E"));
    assert!(McspSource::new(&McspOptions {
        url: Some(srv.url.clone()),
        ..Default::default()
    })
    .is_err());
}
