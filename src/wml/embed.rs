//! Embeddings answers read straight into one `f32` vector (no JSON values in
//! between), and the answers of a split call joined in input order.

use crate::error::{Error, Result};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Most inputs the service takes in one embeddings request.
pub const MAX_INPUTS: usize = 1000;

/// An embeddings answer: every `results[i].embedding` one after the other
/// in `vectors`, `lengths[i]` numbers each.
#[derive(Debug, Default, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<f32>,
    pub lengths: Vec<u32>,
    /// `results[i].input`, when the answer carries them
    /// (`return_options.input_text`); `""` for a result without one.
    pub inputs: Option<Vec<String>>,
    pub input_token_count: u64,
    /// Every other top-level member (`model_id`, `created_at`, `system`, ...).
    pub rest: Map<String, Value>,
}

impl Embeddings {
    /// The length every vector has, when they all have the same.
    pub fn dimension(&self) -> Option<u32> {
        let first = *self.lengths.first()?;
        self.lengths.iter().all(|&l| l == first).then_some(first)
    }

    /// Reads one answer body.
    pub fn parse(body: &[u8]) -> Result<Embeddings> {
        let mut out = Embeddings::default();
        let mut de = serde_json::Deserializer::from_slice(body);
        AsMap(Answer(&mut out))
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| Error::BadResponse {
                status: 200,
                message: format!(
                    "the embeddings answer is not in the service's shape ({:?} at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        Ok(out)
    }

    /// The answers of a split call as one, in order: vectors and inputs
    /// joined, token counts summed, the first part's other members (with
    /// any other warning the later parts gave).
    pub fn join(parts: Vec<Embeddings>) -> Embeddings {
        let mut parts = parts.into_iter();
        let Some(mut all) = parts.next() else {
            return Embeddings::default();
        };
        for p in parts {
            all.vectors.extend_from_slice(&p.vectors);
            let before = all.lengths.len();
            all.lengths.extend_from_slice(&p.lengths);
            match (&mut all.inputs, p.inputs) {
                (Some(a), Some(b)) => a.extend(b),
                (Some(a), None) => a.resize(all.lengths.len(), String::new()),
                (None, Some(b)) => {
                    let mut a = vec![String::new(); before];
                    a.extend(b);
                    all.inputs = Some(a);
                }
                (None, None) => {}
            }
            all.input_token_count += p.input_token_count;
            merge_warnings(&mut all.rest, &p.rest);
        }
        all
    }
}

/// Adds `from.system.warnings` not already in `into.system.warnings`.
fn merge_warnings(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    let Some(Value::Array(new)) = from.get("system").and_then(|s| s.get("warnings")) else {
        return;
    };
    let system = into
        .entry("system")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(system) = system else {
        return;
    };
    let warnings = system
        .entry("warnings")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(warnings) = warnings else {
        return;
    };
    for w in new {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
}

/// A seed that reads a map with the visitor it holds.
struct AsMap<V>(V);

impl<'de, V: Visitor<'de, Value = ()>> DeserializeSeed<'de> for AsMap<V> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self.0)
    }
}

/// A seed that reads a sequence with the visitor it holds.
struct AsSeq<V>(V);

impl<'de, V: Visitor<'de, Value = ()>> DeserializeSeed<'de> for AsSeq<V> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self.0)
    }
}

/// The top-level object.
struct Answer<'a>(&'a mut Embeddings);

impl<'de> Visitor<'de> for Answer<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an embeddings answer object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<(), A::Error> {
        let mut saw_results = false;
        while let Some(key) = m.next_key::<String>()? {
            match key.as_str() {
                "results" => {
                    m.next_value_seed(AsSeq(Results(self.0)))?;
                    saw_results = true;
                }
                "input_token_count" => {
                    self.0.input_token_count = m.next_value::<Option<u64>>()?.unwrap_or(0)
                }
                _ => {
                    let v = m.next_value::<Value>()?;
                    self.0.rest.insert(key, v);
                }
            }
        }
        if !saw_results {
            return Err(serde::de::Error::missing_field("results"));
        }
        Ok(())
    }
}

/// `results`: an array of `{embedding, input?}`.
struct Results<'a>(&'a mut Embeddings);

impl<'de> Visitor<'de> for Results<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of results")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> std::result::Result<(), A::Error> {
        while s.next_element_seed(AsMap(One(&mut *self.0)))?.is_some() {}
        Ok(())
    }
}

/// One result.
struct One<'a>(&'a mut Embeddings);

impl<'de> Visitor<'de> for One<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a result object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<(), A::Error> {
        let e = self.0;
        let start = e.vectors.len();
        let mut input = None;
        let mut saw_embedding = false;
        while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "embedding" if !saw_embedding => {
                    m.next_value_seed(AsSeq(Vector(&mut e.vectors)))?;
                    saw_embedding = true;
                }
                "input" => input = m.next_value::<Option<String>>()?,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_embedding {
            return Err(serde::de::Error::missing_field("embedding"));
        }
        let len = u32::try_from(e.vectors.len() - start)
            .map_err(|_| serde::de::Error::custom("an embedding too long"))?;
        e.lengths.push(len);
        match (&mut e.inputs, input) {
            (Some(list), i) => list.push(i.unwrap_or_default()),
            (None, Some(i)) => {
                let mut list = vec![String::new(); e.lengths.len() - 1];
                list.push(i);
                e.inputs = Some(list);
            }
            (None, None) => {}
        }
        Ok(())
    }
}

/// An `embedding` array, appended to the shared vector.
struct Vector<'a>(&'a mut Vec<f32>);

impl<'de> Visitor<'de> for Vector<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of numbers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> std::result::Result<(), A::Error> {
        if let Some(n) = s.size_hint() {
            self.0.reserve(n);
        }
        while let Some(x) = s.next_element::<f32>()? {
            self.0.push(x);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
