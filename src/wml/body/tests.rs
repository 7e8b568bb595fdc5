use super::*;

fn text(b: Bytes) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

fn json(b: &Bytes) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

#[test]
fn the_clients_project_is_spliced_in_when_the_body_names_none() {
    let p = Context::project("p-1");
    let out = with_context(
        Bytes::from_static(br#" {"model_id":"m","inputs":["a"]}"#),
        Some(&p),
    )
    .unwrap();
    assert_eq!(
        text(out),
        r#" {"project_id":"p-1","model_id":"m","inputs":["a"]}"#
    );
    let out = with_context(Bytes::from_static(b"{ }"), Some(&Context::space("s\"x"))).unwrap();
    assert_eq!(json(&out), serde_json::json!({"space_id": "s\"x"}));
}

#[test]
fn a_body_naming_its_context_is_sent_as_is() {
    let p = Context::project("p-1");
    for body in [
        r#"{"model_id":"m","space_id":"s"}"#,
        r#"{"project_id":"mine"}"#,
        r#"{"wml_instance_crn":"crn:v1"}"#,
        r#"{"project_id":""}"#,
    ] {
        let b = Bytes::from(body);
        let out = with_context(b.clone(), Some(&p)).unwrap();
        assert_eq!(out.as_ptr(), b.as_ptr(), "not copied: {body}");
        assert_eq!(with_context(b.clone(), None).unwrap(), b);
    }
}

#[test]
fn null_context_members_are_replaced_not_doubled() {
    let p = Context::project("p-1");
    let out = with_context(
        Bytes::from_static(br#"{"space_id":null,"model_id":"m","\u0061":[1, 2]}"#),
        Some(&p),
    )
    .unwrap();
    assert_eq!(
        text(out),
        r#"{"model_id":"m","a":[1, 2],"project_id":"p-1"}"#
    );
}

#[test]
fn no_context_anywhere_and_bad_bodies_are_argument_errors() {
    for (body, ctx) in [
        (r#"{"model_id":"m"}"#, None),
        (r#"{"project_id":null}"#, None),
        ("[1]", Some(Context::project("p"))),
        ("\"x\"", Some(Context::project("p"))),
        ("{\"a\":", Some(Context::project("p"))),
        ("{} x", Some(Context::project("p"))),
        ("", Some(Context::project("p"))),
    ] {
        let e = with_context(Bytes::from(body), ctx.as_ref()).unwrap_err();
        assert_eq!(e.code(), "ERR_INVALID_ARG", "{body}");
    }
    let e = with_context(Bytes::from_static(b"{}"), None).unwrap_err();
    assert!(e.message().contains("projectId"), "{}", e.message());
}

#[test]
fn embeddings_inputs_are_split_in_order_with_every_other_member() {
    let inputs: Vec<String> = (0..2500).map(|i| format!("text \"{i}\"")).collect();
    let body = serde_json::json!({"model_id": "m", "inputs": inputs, "parameters": {"truncate_input_tokens": 3}});
    let parts = split_inputs(
        Bytes::from(body.to_string()),
        Some(&Context::space("s")),
        1000,
    )
    .unwrap();
    assert_eq!(parts.len(), 3);
    let mut seen = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let v = json(p);
        assert_eq!(v["model_id"], "m");
        assert_eq!(v["space_id"], "s");
        assert_eq!(v["parameters"]["truncate_input_tokens"], 3);
        let n = v["inputs"].as_array().unwrap().len();
        assert_eq!(n, if i < 2 { 1000 } else { 500 });
        seen.extend(
            v["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string()),
        );
    }
    assert_eq!(seen, inputs);
}

#[test]
fn embeddings_at_or_under_the_limit_are_one_body() {
    let body = Bytes::from(r#"{"model_id":"m","project_id":"p","inputs":["a","b"]}"#);
    let parts = split_inputs(body.clone(), None, 2).unwrap();
    assert_eq!(parts, vec![body]);
    // not a list: sent for the service to judge
    let odd = Bytes::from(r#"{"model_id":"m","project_id":"p","inputs":"a"}"#);
    assert_eq!(split_inputs(odd.clone(), None, 2).unwrap(), vec![odd]);
    // a split still needs a context
    let e = split_inputs(Bytes::from(r#"{"inputs":["a","b","c"]}"#), None, 2).unwrap_err();
    assert_eq!(e.code(), "ERR_INVALID_ARG");
}

#[test]
fn model_specs_query() {
    let q = query_pairs(
        br#"{"filters":"function_embedding","limit":50,"tech_preview":true,"start":null}"#,
    )
    .unwrap();
    assert_eq!(
        q,
        vec![
            ("filters".to_string(), "function_embedding".to_string()),
            ("limit".to_string(), "50".to_string()),
            ("tech_preview".to_string(), "true".to_string()),
        ]
    );
    assert!(query_pairs(b"").unwrap().is_empty());
    for bad in [
        &br#"{"limit":[1]}"#[..],
        br#"{"version":"2024-01-01"}"#,
        b"[]",
    ] {
        assert_eq!(query_pairs(bad).unwrap_err().code(), "ERR_INVALID_ARG");
    }
}
