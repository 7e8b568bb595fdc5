use super::*;
use crate::auth::cache::ManualClock;
use crate::testutil::{FakeIam, Reply};
use crate::wml::errors;
use bytes::Bytes;

fn options(url: &str, auth: AuthSpec) -> WmlOptions {
    WmlOptions {
        url: url.to_string(),
        version: None,
        transport: TransportOptions::default(),
        auth,
        project_id: None,
        space_id: None,
    }
}

fn apikey(key: &str, iam_url: &str) -> AuthSpec {
    AuthSpec::Apikey(
        Secret::new(key),
        Box::new(IamOptions {
            url: Some(iam_url.to_string()),
            ..Default::default()
        }),
    )
}

async fn setup(extra: impl FnOnce(&mut WmlOptions)) -> (FakeIam, Arc<WmlClient>) {
    let srv = FakeIam::start().await;
    let cache = TokenCache::new(
        Arc::new(ManualClock::default()),
        100,
        tokio::runtime::Handle::current(),
    );
    let mut o = options(&srv.url, apikey("wml-key", &srv.url));
    extra(&mut o);
    let c = WmlClient::new(&o, cache).unwrap();
    (srv, Arc::new(c))
}

fn open(c: &Arc<WmlClient>) -> crate::wml::EventStream {
    c.open_stream(
        Op::GenerateStream,
        "d",
        Bytes::new(),
        CallOptions::default(),
        CancellationToken::new(),
    )
    .unwrap()
}

/// A WML-shaped error answer with `errors[0].code == code`.
fn wml_error(status: u16, code: &str, retry_after: Option<&'static str>) -> Reply {
    let body = format!(
        r#"{{"errors":[{{"code":"{code}","message":"msg for {code}","more_info":"https://x"}}],"trace":"tr-1","status_code":400}}"#
    );
    Reply::Raw(status, "application/json", body, retry_after)
}

const PAYLOAD: &str = r#"{"input_data":[{"fields":["a"],"values":[[1]]}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_with_a_cached_bearer_token() {
    let (srv, c) = setup(|_| {}).await;
    let o = CallOptions::new(None, Some("tx-42")).unwrap();
    for _ in 0..3 {
        let body = c
            .call(
                Op::Score,
                "dep-1",
                Bytes::from_static(PAYLOAD.as_bytes()),
                &o,
            )
            .await
            .unwrap();
        assert!(body.contains("predictions"));
    }
    assert_eq!(srv.hits(), 1, "one IAM request for all calls");
    assert_eq!(srv.wml_hits(), 3);
    let head = srv.last_wml_head.lock().clone().to_ascii_lowercase();
    assert!(head.starts_with("post /ml/v4/deployments/dep-1/predictions?version=2023-05-29 "));
    assert!(head.contains("authorization: bearer ey"));
    assert!(head.contains("x-global-transaction-id: tx-42"));
    assert!(head.contains("content-type: application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_refreshes_the_token_once() {
    let (srv, c) = setup(|_| {}).await;
    let body = || Bytes::from_static(PAYLOAD.as_bytes());
    srv.push_wml(wml_error(401, "authentication_token_expired", None));
    c.call(Op::Score, "d", body(), &CallOptions::default())
        .await
        .unwrap();
    assert_eq!((srv.hits(), srv.wml_hits()), (2, 2));

    for _ in 0..2 {
        srv.push_wml(wml_error(401, "authentication_token_not_valid", None));
    }
    let e = c
        .call(Op::Score, "d", body(), &CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_WML");
    assert_eq!(e.status(), Some(401));
    assert_eq!((srv.hits(), srv.wml_hits()), (3, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_naming_a_refused_token_refreshes_it_as_a_401_does() {
    let (srv, c) = setup(|_| {}).await;
    let body = || Bytes::from_static(PAYLOAD.as_bytes());
    srv.push_wml(wml_error(403, "authentication_token_expired", None));
    c.call(Op::Score, "d", body(), &CallOptions::default())
        .await
        .unwrap();
    assert_eq!((srv.hits(), srv.wml_hits()), (2, 2));

    // Any other 403 is the caller's to act on: no new token, no retry.
    srv.push_wml(wml_error(403, "forbidden", None));
    let e = c
        .call(Op::Score, "d", body(), &CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert_eq!((srv.hits(), srv.wml_hits()), (2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_the_retryable_and_not_the_rest() {
    let (srv, c) = setup(|o| o.transport.max_retries = Some(3.0)).await;
    let body = || Bytes::from_static(PAYLOAD.as_bytes());
    for s in [429, 502, 503] {
        srv.push_wml(wml_error(s, "busy", Some("0")));
    }
    c.call(Op::Score, "d", body(), &CallOptions::default())
        .await
        .unwrap();
    assert_eq!(srv.wml_hits(), 4);

    for (status, code) in [
        (400, "invalid_input_argument"),
        (403, "authorization_rejected"),
        (404, "deployment_not_found"),
    ] {
        let before = srv.wml_hits();
        srv.push_wml(wml_error(status, code, None));
        let e = c
            .call(Op::Score, "d", body(), &CallOptions::default())
            .await
            .unwrap_err();
        assert_eq!(srv.wml_hits(), before + 1, "{status} is not retried");
        match e {
            Error::Wml {
                status: s,
                message,
                errors,
                trace,
            } => {
                assert_eq!(s, status);
                assert!(message.contains(&format!("msg for {code}")));
                assert!(errors.unwrap().to_string().contains(code));
                assert_eq!(trace.as_deref(), Some("tr-1"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_credentials_skip_iam() {
    let (srv, c) = setup(|o| o.auth = AuthSpec::Token(Secret::new("user-managed-token"))).await;
    c.call(
        Op::Score,
        "d",
        Bytes::from_static(PAYLOAD.as_bytes()),
        &CallOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(srv.hits(), 0);
    assert!(srv
        .last_wml_head
        .lock()
        .contains("Bearer user-managed-token"));
    srv.push_wml(wml_error(401, "authentication_token_not_valid", None));
    let e = c
        .call(Op::Score, "d", Bytes::new(), &CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(srv.wml_hits(), 2, "no refresh possible, no second try");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_timeout() {
    let (srv, c) = setup(|_| {}).await;
    c.call(Op::Score, "d", Bytes::new(), &CallOptions::default())
        .await
        .unwrap(); // warm the token
    srv.push_wml(Reply::Delay(Duration::from_secs(5)));
    let e = c
        .call(
            Op::Score,
            "d",
            Bytes::new(),
            &CallOptions {
                timeout: Some(Duration::from_millis(100)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_TIMEOUT");

    srv.push_wml(Reply::Delay(Duration::from_secs(5)));
    let cancel = CancellationToken::new();
    let o = CallOptions {
        cancel: Some(cancel.clone()),
        ..Default::default()
    };
    let t = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    assert_eq!(
        c.call(Op::Score, "d", Bytes::new(), &o).await.unwrap_err(),
        Error::Aborted
    );
    t.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_events_across_split_reads_and_stops_on_error_events() {
    let (srv, c) = setup(|_| {}).await;
    srv.push_wml(Reply::Sse(
        vec![
            ": ping\n\nid: 1\nevent: message\nda",
            "ta: {\"results\":[{\"generated_text\":\"He\"}]}\n",
            "\nid: 2\ndata: {\"results\":[{\"generated_text\":\"llo\"}]}\n\n",
        ],
        Duration::from_millis(5),
    ));
    let mut s = open(&c);
    let mut got = Vec::new();
    while let Some(ev) = s.next().await.unwrap() {
        got.push(ev);
    }
    assert_eq!(got.len(), 2);
    assert!(got[0].contains("\"He\"") && got[1].contains("\"llo\""));
    assert!(srv
        .last_wml_head
        .lock()
        .contains("/text/generation_stream?version="));

    srv.push_wml(Reply::Sse(
        vec![
            "data: {\"results\":[]}\n\n",
            "event: error\ndata: {\"errors\":[{\"code\":\"authentication_token_expired\",\"message\":\"expired\"}],\"trace\":\"t\",\"status_code\":401}\n\n",
            "data: {\"results\":[]}\n\n",
        ],
        Duration::from_millis(5),
    ));
    let iam_before = srv.hits();
    let mut s = open(&c);
    assert!(s.next().await.unwrap().is_some());
    let e = s.next().await.unwrap_err();
    assert_eq!(e.code(), "ERR_WML");
    assert_eq!(e.status(), Some(401));
    // The rejected token was dropped: the next call gets a new one.
    c.call(Op::Score, "d", Bytes::new(), &CallOptions::default())
        .await
        .unwrap();
    assert_eq!(srv.hits(), iam_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_stream_closes_the_connection() {
    let (srv, c) = setup(|_| {}).await;
    srv.push_wml(Reply::Sse(
        vec!["data: {}\n\n"; 200],
        Duration::from_millis(10),
    ));
    let mut s = open(&c);
    assert!(s.next().await.unwrap().is_some());
    drop(s);
    for _ in 0..200 {
        if srv.stream_cut.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server kept writing to a closed stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_and_ids() {
    let (_srv, c) = setup(|_| {}).await;
    for id in ["", "a/b", "a?b", "a#b", "..", "x..y", "a%2f"] {
        let e = c
            .call(Op::Score, id, Bytes::new(), &CallOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG", "{id:?}");
    }
    let cache = TokenCache::new(
        Arc::new(ManualClock::default()),
        10,
        tokio::runtime::Handle::current(),
    );
    for o in [
        options("", apikey("k", "https://127.0.0.1:1")),
        options(
            "http://us-south.ml.cloud.ibm.com",
            apikey("k", "https://127.0.0.1:1"),
        ),
        options(
            "https://us-south.ml.cloud.ibm.com",
            AuthSpec::Token(Secret::new("")),
        ),
        options("https://x.y", apikey("", "https://127.0.0.1:1")),
        WmlOptions {
            project_id: Some("p".into()),
            space_id: Some("s".into()),
            ..options("https://x.y", apikey("k", "https://127.0.0.1:1"))
        },
        WmlOptions {
            version: Some("May 2023".into()),
            ..options("https://x.y", apikey("k", "https://127.0.0.1:1"))
        },
        WmlOptions {
            transport: TransportOptions {
                headers: vec![("X-A".into(), "a\r\nX-Evil: 1".into())],
                ..Default::default()
            },
            ..options("https://x.y", apikey("k", "https://127.0.0.1:1"))
        },
    ] {
        assert_eq!(
            WmlClient::new(&o, cache.clone()).unwrap_err().code(),
            "ERR_INVALID_ARG"
        );
    }
    assert!(!format!("{c:?}").contains("wml-key"));
}

#[test]
fn header_values_from_the_caller_are_checked() {
    for bad in ["a\r\nX-Evil: 1", "a\nb", "a\rb", "nul\0", "bell\u{7}"] {
        let e = CallOptions::new(None, Some(bad)).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG");
        assert!(
            e.message().contains("options.transactionId"),
            "{}",
            e.message()
        );
    }
    assert!(CallOptions::new(None, Some("tx-1 with\ttab")).is_ok());
    assert_eq!(
        CallOptions::new(Some(-1.0), None).unwrap_err().code(),
        "ERR_INVALID_ARG"
    );
}

#[test]
fn error_bodies() {
    let e = errors::from_body(
        502,
        b"<html><title>502 Bad Gateway</title></html>",
        Some("text/html"),
        None,
    );
    assert!(e.message().contains("502 Bad Gateway") && e.message().len() < 200);
    let e = errors::from_body(
        400,
        br#"{"errors":[{"code":"x","message":"bad token abc.def.ghi"}]}"#,
        None,
        Some("abc.def.ghi"),
    );
    assert!(!e.message().contains("abc.def.ghi"));
    assert!(!format!("{e:?}").contains("abc.def.ghi"));
}

/// An embeddings answer for a body whose inputs are numbers as text:
/// `[n, -n]` per input, later parts answering sooner.
fn embed_echo(body: &str) -> (u16, String, std::time::Duration) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let inputs = v["inputs"].as_array().unwrap();
    let first: u64 = inputs[0].as_str().unwrap().parse().unwrap();
    let results: Vec<serde_json::Value> = inputs
        .iter()
        .map(|i| {
            let n: f32 = i.as_str().unwrap().parse().unwrap();
            serde_json::json!({ "embedding": [n, -n] })
        })
        .collect();
    let answer = serde_json::json!({
        "model_id": v["model_id"], "results": results, "created_at": "2024-01-01T00:00:00Z",
        "input_token_count": inputs.len(), "project_id_seen": v["project_id"],
    });
    let delay = std::time::Duration::from_millis(90u64.saturating_sub(first / 1000 * 30));
    (200, answer.to_string(), delay)
}

fn embed_body(n: usize) -> Bytes {
    let inputs: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    Bytes::from(serde_json::json!({ "model_id": "m", "inputs": inputs }).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_are_split_sent_together_and_joined_in_order() {
    let (srv, c) = setup(|o| o.project_id = Some("proj-1".into())).await;
    for _ in 0..3 {
        srv.push_wml(Reply::Echo(embed_echo));
    }
    let e = c
        .embed(embed_body(2345), &CallOptions::default())
        .await
        .unwrap();
    assert_eq!(srv.wml_hits(), 3);
    assert_eq!(e.lengths.len(), 2345);
    assert_eq!(e.dimension(), Some(2));
    for i in [0usize, 999, 1000, 1999, 2000, 2344] {
        assert_eq!(e.vectors[2 * i], i as f32, "input {i}");
        assert_eq!(e.vectors[2 * i + 1], -(i as f32));
    }
    assert_eq!(e.input_token_count, 2345);
    assert_eq!(e.rest["model_id"], "m");
    assert_eq!(e.rest["project_id_seen"], "proj-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_embeddings_part_fails_the_call() {
    let (srv, c) = setup(|o| o.space_id = Some("sp".into())).await;
    srv.push_wml(Reply::Echo(embed_echo));
    srv.push_wml(wml_error(400, "invalid_input_argument", None));
    srv.push_wml(Reply::Echo(embed_echo));
    let e = c
        .embed(embed_body(2001), &CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_WML");
    assert_eq!(e.status(), Some(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_calls_need_a_project_or_space_and_get_the_clients() {
    let (srv, plain) = setup(|_| {}).await;
    let o = CallOptions::default();
    let chat = Bytes::from_static(br#"{"model_id":"m","messages":[]}"#);
    let e = plain
        .call(Op::Chat, "", chat.clone(), &o)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    let e = plain.embed(embed_body(3), &o).await.unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    let e = plain
        .open_stream(
            Op::ChatStream,
            "",
            chat.clone(),
            o.clone(),
            CancellationToken::new(),
        )
        .err()
        .unwrap();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    assert_eq!(srv.wml_hits(), 0, "nothing was sent");
    // deployment calls need none
    plain
        .call(Op::DeploymentChat, "dep", chat.clone(), &o)
        .await
        .unwrap();
    assert!(srv
        .last_wml_head
        .lock()
        .starts_with("POST /ml/v1/deployments/dep/text/chat?version="));
    assert_eq!(*srv.last_body.lock(), r#"{"model_id":"m","messages":[]}"#);

    let (srv, c) = setup(|o| o.space_id = Some("space-9".into())).await;
    c.call(Op::Chat, "ignored", chat, &o).await.unwrap();
    assert!(srv
        .last_wml_head
        .lock()
        .starts_with("POST /ml/v1/text/chat?version="));
    assert_eq!(
        *srv.last_body.lock(),
        r#"{"space_id":"space-9","model_id":"m","messages":[]}"#
    );
    let own = Bytes::from_static(br#"{"input":"x","project_id":"p"}"#);
    c.call(Op::Tokenize, "", own, &o).await.unwrap();
    assert_eq!(*srv.last_body.lock(), r#"{"input":"x","project_id":"p"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_specs_is_a_get_with_the_query() {
    let (srv, c) = setup(|_| {}).await;
    let q = Bytes::from_static(br#"{"filters":"function_text_chat:and","limit":5}"#);
    c.call(Op::ModelSpecs, "", q, &CallOptions::default())
        .await
        .unwrap();
    let head = srv.last_wml_head.lock().clone();
    assert!(
        head.starts_with("GET /ml/v1/foundation_model_specs?version=2023-05-29&filters=function_text_chat%3Aand&limit=5 "),
        "{head}"
    );
    assert!(!head.to_ascii_lowercase().contains("content-type"));
    assert_eq!(*srv.last_body.lock(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_pak_for_data_credentials_use_the_service_urls_authorize_endpoint() {
    let (srv, c) = setup(|o| {
        o.auth = AuthSpec::Cp4d {
            username: "admin".into(),
            password: None,
            apikey: Some(Secret::new("cpd-key")),
        };
        // IBM's Python client takes the CPD release as `version`.
        o.version = Some("5.0".into());
    })
    .await;
    for _ in 0..2 {
        c.call(
            Op::Score,
            "d",
            Bytes::from_static(PAYLOAD.as_bytes()),
            &CallOptions::default(),
        )
        .await
        .unwrap();
    }
    let reqs = srv.token_requests.lock().clone();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].0.starts_with("POST /icp4d-api/v1/authorize "));
    assert_eq!(reqs[0].1, r#"{"api_key":"cpd-key","username":"admin"}"#);
    let head = srv.last_wml_head.lock().to_ascii_lowercase();
    assert!(head.contains("?version=2023-05-29 "), "{head}");
    assert!(head.contains("authorization: bearer ey"));
    // A release is only taken as `version` with CPD credentials.
    let mut o = options(&srv.url, apikey("k", &srv.url));
    o.version = Some("5.0".into());
    let cache = TokenCache::new(
        Arc::new(ManualClock::default()),
        10,
        tokio::runtime::Handle::current(),
    );
    assert!(WmlClient::new(&o, cache).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaceable_bearer_an_expired_one_and_no_auth() {
    use crate::auth::jwt::make_token;
    let expired = make_token(r#"{"iat":1700000000,"exp":1700003600}"#);
    let bearer = Arc::new(StaticBearer::new(Secret::new(expired)).unwrap());
    let b = bearer.clone();
    let (srv, c) = setup(move |o| o.auth = AuthSpec::Bearer(b)).await;
    let e = c
        .call(Op::Score, "d", Bytes::new(), &CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
    assert!(e.message().contains("expired"), "{}", e.message());
    assert_eq!(srv.wml_hits(), 0, "nothing was sent");
    bearer.set(Secret::new("replaced-token")).unwrap();
    c.call(Op::Score, "d", Bytes::new(), &CallOptions::default())
        .await
        .unwrap();
    assert!(srv.last_wml_head.lock().contains("Bearer replaced-token"));

    let (srv, c) = setup(|o| o.auth = AuthSpec::None).await;
    c.call(Op::Score, "d", Bytes::new(), &CallOptions::default())
        .await
        .unwrap();
    assert!(!srv
        .last_wml_head
        .lock()
        .to_ascii_lowercase()
        .contains("authorization:"));
    assert_eq!(srv.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_call_sends_its_trace_context_and_reports_what_happened() {
    let (srv, c) = setup(|_| {}).await;
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let trace = Arc::new(crate::telemetry::CallTrace::new(
        "0af7651916cd43dd8448eb211c80319c".into(),
        &[("traceparent".into(), parent.into())],
    ));
    let mut o = CallOptions::new(None, None).unwrap();
    o.headers.extend(trace.headers.iter().cloned());
    o.trace = Some(trace.clone());
    srv.push_wml(wml_error(429, "busy", Some("0")));
    srv.push_wml(wml_error(401, "authentication_token_expired", None));
    c.call(Op::Score, "d", Bytes::from_static(PAYLOAD.as_bytes()), &o)
        .await
        .unwrap();
    let head = srv.last_wml_head.lock().clone().to_ascii_lowercase();
    assert!(head.contains(&format!("traceparent: {parent}")), "{head}");
    let r = trace.take();
    assert_eq!(r.status, Some(200));
    assert_eq!(
        r.resends, 2,
        "one retry, one resend after the refused token"
    );
    assert_eq!(r.auth_kind, Some("iam"));
    // The first lookup and the one after the refused token waited; the retry's was a hit.
    assert_eq!((r.token_misses, r.token_hits), (2, 1));
    let names: Vec<&str> = r.events.iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        ["token.wait", "retry", "token.refresh", "token.wait"]
    );
    assert_eq!(r.events[1].status, Some(429));
    assert_eq!(r.fetches.len(), 2, "both token requests were this call's");
    assert!(r
        .fetches
        .iter()
        .all(|f| f.kind == "iam" && !f.background && f.error.is_none()));
    assert_eq!(r.fetches[0].endpoint.as_deref(), Some(srv.url.as_str()));
    assert!(r.events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
}

/// `AuthSpec::from_credentials` for `c` (with an authenticator's spec when
/// `with_authenticator`): the spec's `Debug` name, or the error message.
fn auth_of(c: Credentials, with_authenticator: bool) -> std::result::Result<String, String> {
    let a = with_authenticator.then_some(AuthSpec::None);
    AuthSpec::from_credentials(c, a, || Ok(IamOptions::default()))
        .map(|s| format!("{s:?}"))
        .map_err(|e| e.to_string())
}

fn secret(s: &str) -> Option<Secret> {
    Some(Secret::new(s))
}

#[test]
fn credentials_take_one_way_to_authenticate() {
    let cpd = |username: &str| Credentials {
        username: Some(username.into()),
        instance_id: Some(" OpenShift ".into()),
        ..Default::default()
    };
    let ok = [
        (
            Credentials {
                apikey: secret("k"),
                ..Default::default()
            },
            false,
            "Apikey(<redacted>)",
        ),
        (
            Credentials {
                token: secret("t"),
                // an IBM Cloud instance id of old credentials is ignored
                instance_id: Some("0f1e-instance".into()),
                ..Default::default()
            },
            false,
            "Token(<redacted>)",
        ),
        (
            Credentials {
                password: secret("p"),
                ..cpd("admin")
            },
            false,
            "Cp4d(<redacted>)",
        ),
        (
            Credentials {
                apikey: secret("k"),
                instance_id: Some("icp".into()),
                ..cpd("admin")
            },
            false,
            "Cp4d(<redacted>)",
        ),
        // empty strings count as absent
        (
            Credentials {
                apikey: secret(""),
                token: secret(""),
                password: secret(""),
                username: Some("  ".into()),
                ..Default::default()
            },
            true,
            "None",
        ),
    ];
    for (c, with_authenticator, want) in ok {
        assert_eq!(auth_of(c, with_authenticator).as_deref(), Ok(want));
    }

    let refused = [
        (
            Credentials {
                apikey: secret("k"),
                ..Default::default()
            },
            true,
            "an authenticator, or an apikey, a token or a username: not both",
        ),
        (cpd("admin"), true, "an authenticator, or an apikey"),
        (
            Credentials {
                token: secret("t"),
                ..cpd("admin")
            },
            false,
            "take a username (with a password or an apikey) or a token: not both",
        ),
        (
            Credentials {
                username: Some("admin".into()),
                password: secret("p"),
                ..Default::default()
            },
            false,
            "add instance_id: 'openshift'",
        ),
        (
            Credentials {
                password: secret("p"),
                ..Default::default()
            },
            false,
            "a password need a username",
        ),
        (
            Credentials {
                apikey: secret("k"),
                instance_id: Some("openshift".into()),
                ..Default::default()
            },
            false,
            "with an apikey need a username",
        ),
        (
            Credentials::default(),
            false,
            "credentials need an apikey, a token",
        ),
        (
            Credentials {
                apikey: secret("k"),
                token: secret("t"),
                ..Default::default()
            },
            false,
            "one of apikey, token and authenticator",
        ),
    ];
    for (c, with_authenticator, want) in refused {
        let shown = format!("{c:?}");
        let e = auth_of(c, with_authenticator).unwrap_err();
        assert!(e.contains(want), "{shown}: {e}");
    }
}

#[test]
fn the_iam_settings_are_read_only_for_an_apikey() {
    let token = Credentials {
        token: secret("t"),
        ..Default::default()
    };
    let unread = || -> Result<IamOptions> { Err(Error::invalid("iamUrl must be a string")) };
    assert!(AuthSpec::from_credentials(token, None, unread).is_ok());
    let apikey = Credentials {
        apikey: secret("k"),
        ..Default::default()
    };
    let e = AuthSpec::from_credentials(apikey, None, unread).unwrap_err();
    assert!(e.to_string().ends_with("iamUrl must be a string"), "{e}");
}
