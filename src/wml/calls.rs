//! The exchange with the service: the retry policy, the one token refresh
//! after a 401, the whole-call deadline and cancellation.

use super::client::{Op, WmlClient};
use super::embed::{self, Embeddings};
use super::{body, errors};
use crate::auth::caller::Presented;
use crate::error::{Error, Result};
use crate::http::{self, Attempt, RetryPolicy};
use crate::log::debug;
use crate::secret::Secret;
use crate::telemetry::{within, Tag};
use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use parking_lot::Mutex;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Statuses worth another attempt; 400, 403 and 404 never are.
const RETRY_STATUSES: [u16; 5] = [429, 502, 503, 504, 520];
const MAX_RESPONSE: usize = 256 << 20;
/// Parts of a split embeddings call in flight at once.
pub const EMBED_CONCURRENCY: usize = 4;
/// Answers larger than this are parsed on a blocking thread, so that the
/// I/O thread goes on serving the other calls meanwhile.
const PARSE_INLINE_MAX: usize = 64 << 10;

impl WmlClient {
    /// One plain call: the response body text.
    pub async fn call(
        &self,
        op: Op,
        id: &str,
        body: Bytes,
        o: &super::CallOptions,
    ) -> Result<String> {
        let work = async {
            let (url, body) = self.request(op, id, body)?;
            let (resp, _) = self.send_with_token(op, &url, &body, o).await?;
            read_text(resp).await
        };
        within(
            o.trace.as_ref(),
            guard(work, o.cancel.as_ref(), self.deadline(o)),
        )
        .await
    }

    /// `POST /ml/v1/text/embeddings`, its answer read into `f32`s off the
    /// caller's thread. More inputs than one request may carry are sent as
    /// several requests, at most `EMBED_CONCURRENCY` at a time; the answers
    /// come back joined in input order. Any part failing fails the call (the
    /// other parts are stopped).
    pub async fn embed(&self, body: Bytes, o: &super::CallOptions) -> Result<Embeddings> {
        let work = async {
            let parts = body::split_inputs(body, self.context.as_ref(), embed::MAX_INPUTS)?;
            let url = self.url(Op::Embed, "")?;
            let url = &url;
            let answers: Vec<Embeddings> = stream::iter(parts)
                .map(|part| async move {
                    let (resp, _) = self.send_with_token(Op::Embed, url, &part, o).await?;
                    let bytes = read_body(resp).await?;
                    parse_off_thread(bytes, Embeddings::parse).await
                })
                .buffered(EMBED_CONCURRENCY)
                .try_collect()
                .await?;
            Ok(Embeddings::join(answers))
        };
        within(
            o.trace.as_ref(),
            guard(work, o.cancel.as_ref(), self.deadline(o)),
        )
        .await
    }

    /// The bound on a whole call: the call's own, else the client's.
    pub(super) fn deadline(&self, o: &super::CallOptions) -> Duration {
        o.timeout.unwrap_or(self.transport.timeout)
    }

    /// Sends with the retry policy; a refused cached token (a 401, or an
    /// error naming an expired or invalid token: `errors::token_rejected`,
    /// as streams judge it) is dropped and the request tried once more.
    pub(super) async fn send_with_token(
        &self,
        op: Op,
        url: &reqwest::Url,
        body: &Bytes,
        o: &super::CallOptions,
    ) -> Result<(reqwest::Response, Presented)> {
        match self.send_retrying(op, url, body, o).await {
            Err((e, Some(refused))) if refused.refreshable() && errors::token_rejected(&e) => {
                debug!(
                    "WML refused the token: refreshing it and trying once more{}",
                    Tag(o.trace.as_deref())
                );
                if let Some(t) = &o.trace {
                    t.refresh();
                }
                self.auth.refuse(&refused);
                self.send_retrying(op, url, body, o)
                    .await
                    .map_err(|(e, _)| e)
            }
            r => r.map_err(|(e, _)| e),
        }
    }

    /// The retry loop. An error comes with what its last attempt presented.
    async fn send_retrying(
        &self,
        op: Op,
        url: &reqwest::Url,
        body: &Bytes,
        o: &super::CallOptions,
    ) -> std::result::Result<(reqwest::Response, Presented), (Error, Option<Presented>)> {
        let used: Mutex<Option<Presented>> = Mutex::new(None);
        let r = http::with_retries(
            RetryPolicy::new(self.transport.max_retries),
            |_| async {
                let trace = o.trace.as_deref();
                let bearer = match self.auth.present(trace).await {
                    Ok(b) => b,
                    Err(e) => return Attempt::Fail(e),
                };
                *used.lock() = Some(bearer.clone());
                let mut req = self
                    .http
                    .request(op.method(), url.clone())
                    .headers(self.transport.headers.clone())
                    .header(ACCEPT, op.accept());
                if let Some(h) = &bearer.header {
                    req = req.header(AUTHORIZATION, h.clone());
                }
                if op.method() == reqwest::Method::POST {
                    req = req
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone());
                }
                for (k, v) in &o.headers {
                    req = req.header(k, v);
                }
                let resp = match self.transport.send(req, "WML request").await {
                    Ok(r) => r,
                    Err(e) => return http::transport_attempt(e),
                };
                let status = resp.status().as_u16();
                debug!(
                    "WML {} {} -> {status}{}",
                    op.method(),
                    url.path(),
                    Tag(trace)
                );
                if let Some(t) = trace {
                    t.answered(status);
                }
                if (200..300).contains(&status) {
                    return Attempt::Done((resp, bearer));
                }

                let err =
                    match http::Answer::from_response(resp, "WML response", errors::MAX_ERROR_BODY)
                        .await
                    {
                        Ok(a) => {
                            let err = errors::from_answer(
                                &a,
                                bearer.secret().as_ref().map(Secret::expose),
                            );
                            if RETRY_STATUSES.contains(&status) {
                                return Attempt::Retry(err, a.retry_after);
                            }
                            err
                        }
                        Err(e) => return http::transport_attempt(e),
                    };
                Attempt::Fail(err)
            },
            |n, e, d| {
                debug!(
                    "WML retry {n} in {d:?} after {}{}",
                    e.code(),
                    Tag(o.trace.as_deref())
                );
                if let Some(t) = &o.trace {
                    t.retry(e, d);
                }
            },
        )
        .await;
        r.map_err(|e| (e, used.lock().take()))
    }
}

/// Runs `work` bounded by `timeout` and stopped by `cancel`; dropping the
/// work closes its connection.
pub(super) async fn guard<T>(
    work: impl std::future::Future<Output = Result<T>>,
    cancel: Option<&CancellationToken>,
    timeout: Duration,
) -> Result<T> {
    let bounded = async {
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout(format!(
                    "the call did not finish within {} ms",
                    timeout.as_millis()
                )))
            })
    };
    match cancel {
        Some(c) => tokio::select! {
            biased;
            _ = c.cancelled() => Err(Error::Aborted),
            r = bounded => r,
        },
        None => bounded.await,
    }
}

/// Parses an answer body with `parse`, on a blocking thread when it is large.
async fn parse_off_thread<T: Send + 'static>(
    bytes: Vec<u8>,
    parse: fn(&[u8]) -> Result<T>,
) -> Result<T> {
    if bytes.len() <= PARSE_INLINE_MAX {
        return parse(&bytes);
    }
    tokio::task::spawn_blocking(move || parse(&bytes))
        .await
        .unwrap_or_else(|_| Err(Error::internal("a parsing task panicked")))
}

async fn read_body(resp: reqwest::Response) -> Result<Vec<u8>> {
    let status = resp.status().as_u16();
    let (body, complete) = http::read_body(resp, MAX_RESPONSE)
        .await
        .map_err(|e| http::transport_error(&e, "WML response"))?;
    if !complete {
        return Err(Error::BadResponse {
            status,
            message: format!("the response is larger than {MAX_RESPONSE} bytes"),
        });
    }
    Ok(body)
}

async fn read_text(resp: reqwest::Response) -> Result<String> {
    let status = resp.status().as_u16();
    String::from_utf8(read_body(resp).await?).map_err(|_| Error::BadResponse {
        status,
        message: "the response is not UTF-8 text".into(),
    })
}
