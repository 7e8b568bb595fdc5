//! A small IAM stand-in for `cargo test`: a real HTTP/1.1 server on
//! 127.0.0.1 that answers token requests (IAM, and the CP4D, VPC metadata
//! and MCSP token routes) with JWTs (real `iat`/`exp`) or with scripted
//! replies, records and counts them; anything else is a WML request.

use base64::Engine;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub enum Reply {
    /// A token with this lifetime in seconds.
    Token(i64),
    /// A raw status, content type and body, with optional Retry-After.
    Raw(u16, &'static str, String, Option<&'static str>),
    /// Wait, then answer with a normal token.
    Delay(Duration),
    /// Close the connection without answering.
    Reset,
    /// An SSE body written in these pieces, `gap` apart, then closed.
    Sse(Vec<&'static str>, Duration),
    /// An answer made from the request body: status, JSON body, and a delay
    /// before it is sent.
    Echo(fn(&str) -> (u16, String, Duration)),
    /// A token of this lifetime issued this many seconds before the answer,
    /// with the server's `Date` header saying so (a caching proxy).
    Aged(i64, i64),
}

#[derive(Clone)]
pub struct FakeIam {
    pub url: String,
    hits: Arc<AtomicUsize>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    wml_hits: Arc<AtomicUsize>,
    wml_script: Arc<Mutex<VecDeque<Reply>>>,
    /// Request line and headers of the last non-IAM request.
    pub last_wml_head: Arc<Mutex<String>>,
    /// Set when a streamed reply's client went away before the end.
    pub stream_cut: Arc<std::sync::atomic::AtomicBool>,
    lifetime: Arc<AtomicI64>,
    pub last_body: Arc<Mutex<String>>,
    pub last_auth: Arc<Mutex<Option<String>>>,
    /// Every token request (IAM, CP4D, VPC, MCSP routes): its head and body.
    pub token_requests: Arc<Mutex<Vec<(String, String)>>>,
}

/// The token routes this server answers from `script`, and whether their
/// answer carries the token as `token` (CP4D, MCSP) or `access_token`.
const TOKEN_ROUTES: [(&str, bool); 5] = [
    ("POST /identity/token", false),
    ("PUT /instance_identity/v1/token", false),
    ("POST /instance_identity/v1/iam_token", false),
    ("POST /icp4d-api/v1/authorize", true),
    ("POST /api/2.0/apikeys/token", true),
];

impl FakeIam {
    pub async fn start() -> FakeIam {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let me = FakeIam {
            url: format!("http://{addr}"),
            hits: Default::default(),
            script: Default::default(),
            wml_hits: Default::default(),
            wml_script: Default::default(),
            last_wml_head: Default::default(),
            stream_cut: Default::default(),
            lifetime: Arc::new(AtomicI64::new(3600)),
            last_body: Default::default(),
            last_auth: Default::default(),
            token_requests: Default::default(),
        };
        let srv = me.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(srv.clone().serve(sock));
            }
        });
        me
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn push(&self, r: Reply) {
        self.script.lock().push_back(r);
    }

    pub fn wml_hits(&self) -> usize {
        self.wml_hits.load(Ordering::SeqCst)
    }

    /// Queues a reply for the next WML (non-IAM) request; unscripted ones get
    /// a small predictions body.
    pub fn push_wml(&self, r: Reply) {
        self.wml_script.lock().push_back(r);
    }

    async fn serve(self, mut sock: TcpStream) {
        let mut buf = Vec::new();
        loop {
            let Some((head_len, body_len)) = read_head(&mut sock, &mut buf).await else {
                return;
            };
            while buf.len() < head_len + body_len {
                let mut chunk = [0u8; 4096];
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf[..head_len]).to_string();
            let body_text =
                String::from_utf8_lossy(&buf[head_len..head_len + body_len]).to_string();
            *self.last_body.lock() = body_text.clone();
            *self.last_auth.lock() = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .map(|l| l[14..].trim().to_string());
            let route = TOKEN_ROUTES.iter().find(|(r, _)| {
                head.starts_with(r) && matches!(head.as_bytes().get(r.len()), Some(b' ' | b'?'))
            });
            let token_field = match route {
                Some((_, true)) => "token",
                _ => "access_token",
            };
            if route.is_some() {
                self.token_requests
                    .lock()
                    .push((head.clone(), body_text.clone()));
            }
            buf.drain(..head_len + body_len);
            let reply = if route.is_some() {
                self.hits.fetch_add(1, Ordering::SeqCst);
                self.script.lock().pop_front()
            } else {
                self.wml_hits.fetch_add(1, Ordering::SeqCst);
                *self.last_wml_head.lock() = head.clone();
                Some(self.wml_script.lock().pop_front().unwrap_or(Reply::Raw(
                    200,
                    "application/json",
                    r#"{"predictions":[{"fields":["prediction"],"values":[["Y"]]}]}"#.into(),
                    None,
                )))
            };
            let mut date = None;
            let token = |life| {
                (
                    200,
                    "application/json",
                    self.token_body(life, token_field),
                    None,
                )
            };
            let (status, ctype, body, retry_after) = match reply {
                Some(Reply::Reset) => return,
                Some(Reply::Sse(pieces, gap)) => {
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    for p in pieces {
                        tokio::time::sleep(gap).await;
                        if sock.write_all(p.as_bytes()).await.is_err()
                            || sock.flush().await.is_err()
                        {
                            self.stream_cut.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                    return;
                }
                Some(Reply::Raw(s, c, b, ra)) => (s, c, b, ra),
                Some(Reply::Echo(f)) => {
                    let (status, body, delay) = f(&body_text);
                    tokio::time::sleep(delay).await;
                    (status, "application/json", body, None)
                }
                Some(Reply::Delay(d)) => {
                    tokio::time::sleep(d).await;
                    token(None)
                }
                Some(Reply::Token(l)) => token(Some(l)),
                Some(Reply::Aged(l, age)) => {
                    date = Some(httpdate::fmt_http_date(
                        std::time::UNIX_EPOCH + Duration::from_secs((self.iat() + age) as u64),
                    ));
                    token(Some(l))
                }
                None => token(None),
            };
            let mut resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n",
                body.len()
            );
            if let Some(ra) = retry_after {
                resp.push_str(&format!("retry-after: {ra}\r\n"));
            }
            if let Some(d) = date {
                resp.push_str(&format!("date: {d}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(&body);
            if sock.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    /// The `iat` of the token the current request gets: now, as a real
    /// token service says (the token store checks `exp` against the wall
    /// clock), plus the request count so that every token differs.
    fn iat(&self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        now + self.hits() as i64
    }

    fn token_body(&self, lifetime: Option<i64>, field: &str) -> String {
        let life = lifetime.unwrap_or_else(|| self.lifetime.load(Ordering::SeqCst));
        let iat = self.iat();
        let e = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.{}",
            e.encode(r#"{"alg":"RS256"}"#),
            e.encode(format!(
                r#"{{"iat":{iat},"exp":{},"n":{}}}"#,
                iat + life,
                self.hits()
            )),
            e.encode("sig")
        );
        if field == "token" {
            return format!(
                r#"{{"_messageCode_":"200","message":"Success","token":"{token}","expires_in":{life}}}"#
            );
        }
        format!(
            r#"{{"access_token":"{token}","refresh_token":"not_supported","ims_user_id":42,"token_type":"Bearer","expires_in":{life},"expiration":{},"scope":"ibm openid"}}"#,
            iat + life
        )
    }
}

async fn read_head(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            return Some((pos + 4, len));
        }
        let mut chunk = [0u8; 4096];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
