//! Watson Machine Learning and watsonx.ai: the client, its calls and
//! streams, the service's errors, and the SSE parser.

pub mod body;
pub mod calls;
pub mod client;
pub mod embed;
pub mod errors;
pub mod sse;
pub mod stream;

pub use client::{AuthSpec, CallOptions, Op, WmlClient, WmlOptions};
pub use embed::Embeddings;
pub use stream::EventStream;
