use super::*;

#[test]
fn reads_vectors_inputs_counts_and_the_rest() {
    let body = br#"{"model_id":"ibm/slate","results":[{"embedding":[0.5,-1,2e-3],"input":"a"},{"input":"b","embedding":[1,2,3]}],
        "created_at":"2024-01-01T00:00:00Z","input_token_count":7,"system":{"warnings":[{"id":"w"}]}}"#;
    let e = Embeddings::parse(body).unwrap();
    assert_eq!(e.vectors, vec![0.5, -1.0, 0.002, 1.0, 2.0, 3.0]);
    assert_eq!(e.lengths, vec![3, 3]);
    assert_eq!(e.dimension(), Some(3));
    assert_eq!(e.inputs, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(e.input_token_count, 7);
    assert_eq!(e.rest["model_id"], "ibm/slate");
    assert_eq!(e.rest["system"]["warnings"][0]["id"], "w");
    assert!(!e.rest.contains_key("results"));
}

#[test]
fn uneven_vectors_and_missing_inputs() {
    let e =
        Embeddings::parse(br#"{"results":[{"embedding":[1]},{"embedding":[1,2],"input":"x"}]}"#)
            .unwrap();
    assert_eq!(e.lengths, vec![1, 2]);
    assert_eq!(e.dimension(), None);
    assert_eq!(e.inputs, Some(vec![String::new(), "x".to_string()]));
    assert_eq!(e.input_token_count, 0);
}

#[test]
fn anything_else_is_a_bad_response() {
    for bad in [
        &b"{}"[..],
        br#"{"results":[{"input":"a"}]}"#,
        br#"{"results":[{"embedding":["1"]}]}"#,
        br#"{"results":[{"embedding":[null]}]}"#,
        br#"{"results":{}}"#,
        br#"{"results":[]} trailing"#,
        b"[1,2]",
        br#"{"results":[{"embedding":[1,2"#,
    ] {
        let e = Embeddings::parse(bad).unwrap_err();
        assert_eq!(
            e.code(),
            "ERR_BAD_RESPONSE",
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn parts_join_in_order_with_summed_counts_and_all_warnings() {
    let a = Embeddings::parse(br#"{"model_id":"m","results":[{"embedding":[1,1]}],"input_token_count":2,"system":{"warnings":[{"id":"x"}]}}"#).unwrap();
    let b = Embeddings::parse(br#"{"model_id":"m","results":[{"embedding":[2,2],"input":"q"}],"input_token_count":3,"system":{"warnings":[{"id":"x"},{"id":"y"}]}}"#).unwrap();
    let c = Embeddings::parse(
        br#"{"model_id":"m","results":[{"embedding":[3,3]}],"input_token_count":4}"#,
    )
    .unwrap();
    let all = Embeddings::join(vec![a, b, c]);
    assert_eq!(all.vectors, vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    assert_eq!(all.lengths, vec![2, 2, 2]);
    assert_eq!(
        all.inputs,
        Some(vec![String::new(), "q".into(), String::new()])
    );
    assert_eq!(all.input_token_count, 9);
    assert_eq!(
        all.rest["system"]["warnings"],
        serde_json::json!([{"id":"x"},{"id":"y"}])
    );
    assert_eq!(Embeddings::join(vec![]), Embeddings::default());
}
