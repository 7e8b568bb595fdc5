//! Request bodies of the watsonx.ai calls on a foundation model. The body
//! must name a project or a space; when it names neither, the client's own
//! (`projectId` / `spaceId` in the credentials) is spliced in. Only the
//! top-level keys are read (their values stay raw JSON text), so a large
//! body is neither parsed into values nor re-serialised. Embeddings inputs
//! beyond what one request may carry are split here too.

use crate::error::{Error, Result};
use bytes::Bytes;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// The keys that name where a call runs (any one is enough for the service).
const CONTEXT_KEYS: [&str; 3] = ["project_id", "space_id", "wml_instance_crn"];

/// The client's project or space, as the JSON member it adds to a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    member: String,
}

impl Context {
    pub fn project(id: &str) -> Context {
        Context::new("project_id", id)
    }

    pub fn space(id: &str) -> Context {
        Context::new("space_id", id)
    }

    fn new(key: &str, id: &str) -> Context {
        let value = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
        Context {
            member: format!("\"{key}\":{value}"),
        }
    }

    /// `"project_id":"..."`
    pub fn member(&self) -> &str {
        &self.member
    }
}

/// The top-level members of a JSON object, values as raw text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Members<'a> {
    fn parse(body: &'a [u8]) -> Result<Members<'a>> {
        serde_json::from_slice(body).map_err(|e| {
            if e.classify() == serde_json::error::Category::Data {
                Error::invalid("request must be a JSON object")
            } else {
                Error::invalid(format!(
                    "request is not valid JSON (line {} column {})",
                    e.line(),
                    e.column()
                ))
            }
        })
    }

    /// Whether a project, space or instance is named (`null` names none),
    /// and whether a context key is present with `null` (it must go before
    /// the client's is added: a key twice is not valid for the service).
    fn context_keys(&self) -> (bool, bool) {
        let mut named_or_null = (false, false);
        for (k, v) in &self.0 {
            if CONTEXT_KEYS.contains(&k.as_str()) {
                if v.get() == "null" {
                    named_or_null.1 = true;
                } else {
                    named_or_null.0 = true;
                }
            }
        }
        named_or_null
    }

    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The object again, without `skip` and the null context keys, plus `extra`
    /// members (already `"key":value` text).
    fn write(&self, skip: &str, extra: &[&str], capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        out.push(b'{');
        let mut first = true;
        let mut sep = |out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
            first = false;
        };
        for (k, v) in &self.0 {
            if k == skip || (CONTEXT_KEYS.contains(&k.as_str()) && v.get() == "null") {
                continue;
            }
            sep(&mut out);
            // A String always serialises.
            out.extend_from_slice(serde_json::to_string(k).unwrap_or_default().as_bytes());
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        for e in extra {
            sep(&mut out);
            out.extend_from_slice(e.as_bytes());
        }
        out.push(b'}');
        out
    }
}

fn missing_context() -> Error {
    Error::invalid(
        "this call needs a project or a space: set projectId or spaceId in the credentials, \
         or project_id or space_id in the request",
    )
}

/// The member to add to a body with `members`: none if the body names its
/// context, the client's if it has one, else the call cannot be made. With
/// it, whether the body has null context keys (to drop).
fn context_to_add<'c>(
    members: &Members,
    ctx: Option<&'c Context>,
) -> Result<Option<(&'c str, bool)>> {
    let (named, null) = members.context_keys();
    if named {
        return Ok(None);
    }
    ctx.map(|c| Some((c.member(), null)))
        .ok_or_else(missing_context)
}

/// The body to send for a call that needs a project or a space: `body` as
/// is when it names one, else with the client's spliced in after the
/// opening brace.
pub fn with_context(body: Bytes, ctx: Option<&Context>) -> Result<Bytes> {
    let members = Members::parse(&body)?;
    splice(&body, &members, ctx)
}

fn splice(body: &Bytes, members: &Members, ctx: Option<&Context>) -> Result<Bytes> {
    let Some((member, null)) = context_to_add(members, ctx)? else {
        return Ok(body.clone());
    };
    if null {
        return Ok(members
            .write("", &[member], body.len() + member.len() + 1)
            .into());
    }
    // Parsed as an object: the first non-blank byte is its brace.
    let brace = body
        .iter()
        .position(|&b| b == b'{')
        .ok_or_else(|| Error::internal("an object without a brace"))?;
    let mut out = Vec::with_capacity(body.len() + member.len() + 1);
    out.extend_from_slice(&body[..=brace]);
    out.extend_from_slice(member.as_bytes());
    if !members.0.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(&body[brace + 1..]);
    Ok(out.into())
}

/// The bodies of an embeddings call: one, or (more than `max` `inputs`) one
/// per run of at most `max` inputs, in input order, each with every other
/// member of the request and the context.
pub fn split_inputs(body: Bytes, ctx: Option<&Context>, max: usize) -> Result<Vec<Bytes>> {
    let members = Members::parse(&body)?;
    let inputs: Option<Vec<&RawValue>> = members
        .get("inputs")
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let Some(inputs) = inputs.filter(|i| i.len() > max) else {
        return Ok(vec![splice(&body, &members, ctx)?]);
    };
    let member = context_to_add(&members, ctx)?.map(|(m, _)| m);
    let share = body.len() / inputs.len().div_ceil(max) + 64;
    Ok(inputs
        .chunks(max.max(1))
        .map(|run| {
            let mut list = String::with_capacity(share);
            list.push_str("\"inputs\":[");
            for (i, raw) in run.iter().enumerate() {
                if i > 0 {
                    list.push(',');
                }
                list.push_str(raw.get());
            }
            list.push(']');
            let mut extra = vec![list.as_str()];
            extra.extend(member);
            Bytes::from(members.write("inputs", &extra, share))
        })
        .collect())
}

/// The query of `GET /ml/v1/foundation_model_specs` from a JSON object of
/// strings, numbers and booleans (`null` members are left out).
pub fn query_pairs(body: &[u8]) -> Result<Vec<(String, String)>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let members = Members::parse(body).map_err(|_| Error::invalid("query must be an object"))?;
    let mut out = Vec::with_capacity(members.0.len());
    for (k, v) in members.0 {
        if k == "version" {
            return Err(Error::invalid(
                "query.version: the API version is the client's (credentials.version)",
            ));
        }
        let value: serde_json::Value = serde_json::from_str(v.get())
            .map_err(|_| Error::internal("a raw JSON value did not parse"))?;
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(Error::invalid(format!(
                    "query.{k} must be a string, a number or a boolean"
                )))
            }
        };
        out.push((k, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
