//! `wml_native::wml::sse::Parser` on arbitrary bytes cut into arbitrary
//! chunks: no panic, and the events do not depend on how the bytes were cut
//! (the parser's contract: "bytes as they arrive, however the network splits
//! them").
//!
//! Input layout: byte 0 = number of cuts `n` (mod 32); the next `2n` bytes
//! are the cut offsets (u16 LE, taken modulo the stream length + 1, sorted;
//! repeats give empty chunks); the rest is the stream.
//!
//! It found that an empty chunk right after a chunk ending in `\r` made the
//! `\n` of a split `\r\n` count as a blank line (fixed in `src/wml/sse.rs`;
//! the input is kept as `seeds/sse_parser/empty-chunk-after-cr`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wml_native::wml::sse::{Event, Parser};

/// Feeds `chunks` in order, then `finish`. `Err` if the parser refused an
/// event as too large (then the events so far).
fn parse(chunks: &[&[u8]]) -> Result<Vec<Event>, Vec<Event>> {
    let mut p = Parser::new();
    let mut out = Vec::new();
    for c in chunks {
        if p.push(c, &mut out).is_err() {
            return Err(out);
        }
    }
    p.finish(&mut out);
    // Calling finish again must not invent events.
    let n = out.len();
    p.finish(&mut out);
    assert_eq!(out.len(), n, "a second finish() dispatched again");
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n % 32) as usize;
    let spec_len = (2 * n).min(rest.len());
    let (spec, stream) = rest.split_at(spec_len);
    let mut cuts: Vec<usize> = spec
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();

    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &c in &cuts {
        chunks.push(&stream[start..c]);
        start = c;
    }
    chunks.push(&stream[start..]);

    let whole = parse(&[stream]);
    let split = parse(&chunks);
    // Byte by byte: the finest split there is.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    let single = parse(&bytes);

    // Far below MAX_EVENT_BYTES, so a "too large" refusal is itself a bug.
    let whole = whole.expect("whole input refused as too large");
    let split = split.expect("split input refused as too large");
    let single = single.expect("byte-by-byte input refused as too large");

    for ev in &whole {
        assert!(!ev.event.is_empty(), "an event with an empty type: {ev:?}");
    }
    assert_eq!(
        split, whole,
        "cut at {cuts:?} gave other events than the whole input"
    );
    assert_eq!(
        single, whole,
        "byte-by-byte gave other events than the whole input"
    );
});
