//! Watson Machine Learning and watsonx.ai: the client and its SSE parser.

pub mod client;
pub mod sse;
