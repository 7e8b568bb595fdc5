//! wml-native: IBM Cloud IAM tokens and Watson Machine Learning scoring.
//!
//! A plain Rust core (everything but `node`), and a thin napi layer.

pub mod error;
pub mod http;
pub mod iam;
pub mod log;
pub mod runtime;
pub mod secret;

#[cfg(feature = "node")]
mod node;

#[cfg(test)]
mod testutil;
