//! wml-native: IBM Cloud IAM tokens and Watson Machine Learning scoring.
//!
//! A plain Rust core (everything but `node`), and a thin napi layer.

pub mod auth;
pub mod error;
pub mod http;
pub mod log;
pub mod runtime;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod wml;

#[cfg(feature = "node")]
mod node;

#[cfg(test)]
mod testutil;
