use super::*;

fn parse_all(chunks: &[&[u8]]) -> Vec<Event> {
    let mut p = Parser::new();
    let mut out = Vec::new();
    for c in chunks {
        p.push(c, &mut out).unwrap();
    }
    p.finish(&mut out);
    out
}

const STREAM: &str =
    ": ping\n\nid: 1\nevent: message\ndata: {\"a\":1}\n\nid: 2\ndata: {\"b\":\ndata: 2}\n\n";

#[test]
fn parses_events_comments_and_multiline_data() {
    let ev = parse_all(&[STREAM.as_bytes()]);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].event, "message");
    assert_eq!(ev[0].data, "{\"a\":1}");
    assert_eq!(ev[0].id.as_deref(), Some("1"));
    assert_eq!(ev[1].data, "{\"b\":\n2}");
    assert_eq!(ev[1].id.as_deref(), Some("2"));
}

#[test]
fn any_split_gives_the_same_events() {
    let whole = parse_all(&[STREAM.as_bytes()]);
    let crlf = STREAM.replace('\n', "\r\n");
    let cr = STREAM.replace('\n', "\r");
    for text in [STREAM.to_string(), crlf, cr] {
        let bytes = text.as_bytes();
        for size in 1..8 {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(parse_all(&chunks), whole, "chunk size {size}");
        }
        for cut in 0..bytes.len() {
            assert_eq!(
                parse_all(&[&bytes[..cut], &bytes[cut..]]),
                whole,
                "cut {cut}"
            );
        }
    }
}

#[test]
fn named_events_and_missing_final_blank_line() {
    let ev = parse_all(&[b"event: error\ndata: {\"errors\":[]}\n\ndata: tail"]);
    assert_eq!(ev[0].event, "error");
    assert_eq!(ev[1].data, "tail");
    assert_eq!(parse_all(&[b"event: x\n\n"]), vec![]);
    assert_eq!(parse_all(&[b"data\n\n"])[0].data, "");
}

#[test]
fn multibyte_text_split_mid_character() {
    let text = "data: h\u{e9}llo \u{1F600}\n\n".as_bytes();
    for cut in 0..text.len() {
        let ev = parse_all(&[&text[..cut], &text[cut..]]);
        assert_eq!(ev[0].data, "h\u{e9}llo \u{1F600}");
    }
}

#[test]
fn refuses_endless_events() {
    let mut p = Parser::new();
    let mut out = Vec::new();
    let chunk = vec![b'x'; 1 << 20];
    assert!(p.push(b"data: ", &mut out).is_ok());
    let mut failed = false;
    for _ in 0..20 {
        if p.push(&chunk, &mut out).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed);
}
