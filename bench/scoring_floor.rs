//! The scoring benchmark's floor: the same requests as bench/scoring-client.js
//! sends, made by Rust alone on one thread: no JS, no N-API, no hand-off
//! between threads. It shows what the HTTP stack itself costs per request,
//! which no binding over it can go below. Information only. Two stacks:
//! - `reqwest`: the package's own pooled client, as `http::client` builds it;
//! - `hyper`: hyper's bare HTTP/1.1 connection API, one connection per caller
//!   (plain HTTP only, no pool, proxy or TLS): what reqwest's layers cost.
//!
//!   cargo run --release --no-default-features --example scoring_floor -- <server url> <payload JSON> [reqwest|hyper]
//!
//! Same knobs and the same one-line JSON result as scoring-client.js
//! (BENCH_CONCURRENCY, BENCH_WARMUP_MS, BENCH_MEASURE_MS). Linux only: CPU
//! time is read from /proc/self/stat.

use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wml_native::http::{client, ClientOptions};

const PATH: &str = "/ml/v4/deployments/bench-dep/predictions?version=2021-05-01";
const ROWS: usize = 20;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

/// (user, system) CPU time of this process in µs.
fn cpu_us() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime, stime: fields 14 and 15 of stat, in clock ticks of 10 ms.
    let tick = |i: usize| f.get(i).copied().unwrap_or(0) * 10_000;
    (tick(11), tick(12))
}

fn max_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn token(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let form = [
        ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
        ("apikey", "bench-scoring-floor"),
    ];
    let r = http
        .post(format!("{url}/identity/token"))
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_str(&r.text().await.map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    v["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no access_token".into())
}

/// Checks an answer as the JS variants do: 200 and 20 predictions.
fn check(status: u16, body: &[u8]) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let rows = v["predictions"][0]["values"].as_array().map_or(0, Vec::len);
    if status != 200 || rows != ROWS {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("HTTP {status}: {text}"));
    }
    Ok(())
}

async fn score(
    http: &reqwest::Client,
    target: &str,
    bearer: &str,
    body: &Bytes,
) -> Result<(), String> {
    let r = http
        .post(target)
        .header("authorization", bearer)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    check(status, &r.bytes().await.map_err(|e| e.to_string())?)
}

/// One caller of the hyper floor: its own connection, requests in turn.
struct HyperCaller {
    send: hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>,
    host: String,
}

impl HyperCaller {
    async fn connect(url: &str) -> Result<HyperCaller, String> {
        let host = url
            .strip_prefix("http://")
            .ok_or("the hyper floor speaks plain http only")?
            .trim_end_matches('/')
            .to_string();
        let tcp = tokio::net::TcpStream::connect(&host)
            .await
            .map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(HyperCaller { send, host })
    }

    async fn score(&mut self, bearer: &str, body: &Bytes) -> Result<(), String> {
        use http_body_util::BodyExt;
        let req = http::Request::post(PATH)
            .header("host", &self.host)
            .header("authorization", bearer)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(http_body_util::Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        self.send.ready().await.map_err(|e| e.to_string())?;
        let r = self
            .send
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.into_body().collect().await.map_err(|e| e.to_string())?;
        check(status, &body.to_bytes())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(payload)) = (args.next(), args.next()) else {
        eprintln!("usage: scoring_floor <server url> <payload JSON> [reqwest|hyper]");
        std::process::exit(2);
    };
    let stack = args.next().unwrap_or_else(|| "reqwest".into());
    if stack != "reqwest" && stack != "hyper" {
        eprintln!("scoring_floor: unknown stack {stack} (reqwest|hyper)");
        std::process::exit(2);
    }
    let concurrency = knob("BENCH_CONCURRENCY", 32);
    let warmup = Duration::from_millis(knob("BENCH_WARMUP_MS", 2000));
    let measure = Duration::from_millis(knob("BENCH_MEASURE_MS", 8000));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("[scoring floor] no runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async move {
        let http = client(&ClientOptions::default()).map_err(|e| e.to_string())?;
        let bearer = format!("Bearer {}", token(&http, &url).await?);
        let target = format!("{url}{PATH}");
        let body = Bytes::from(payload);
        let completed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
        let mut callers = Vec::new();
        for _ in 0..concurrency {
            let (http, target, bearer, body) = (http.clone(), target.clone(), bearer.clone(), body.clone());
            let (completed, errors, stop, first_error) =
                (completed.clone(), errors.clone(), stop.clone(), first_error.clone());
            let mut own = match stack.as_str() {
                "hyper" => Some(HyperCaller::connect(&url).await?),
                _ => None,
            };
            callers.push(tokio::spawn(async move {
                while !stop.load(Relaxed) {
                    let r = match own.as_mut() {
                        Some(c) => c.score(&bearer, &body).await,
                        None => score(&http, &target, &bearer, &body).await,
                    };
                    match r {
                        Ok(()) => {
                            completed.fetch_add(1, Relaxed);
                        }
                        Err(e) => {
                            errors.fetch_add(1, Relaxed);
                            if let Ok(mut f) = first_error.lock() {
                                f.get_or_insert(e);
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(warmup).await;
        let (c0, cpu0, t0) = (completed.load(Relaxed), cpu_us(), Instant::now());
        tokio::time::sleep(measure).await;
        let (c1, cpu1, seconds) = (completed.load(Relaxed), cpu_us(), t0.elapsed().as_secs_f64());
        stop.store(true, Relaxed);
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            for c in callers {
                let _ = c.await;
            }
        })
        .await
        .is_ok();
        let requests = c1 - c0;
        let (user, system) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
        let first_error = first_error.lock().ok().and_then(|f| f.clone());
        Ok::<_, String>(serde_json::json!({
            "variant": format!("floor-{stack}"),
            "concurrency": concurrency,
            "warmupMs": warmup.as_millis() as u64,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "requests": requests,
            "rps": (requests as f64 / seconds * 10.0).round() / 10.0,
            "cpuUserUs": user,
            "cpuSystemUs": system,
            "cpuUsPerReq": (requests > 0).then(|| ((user + system) as f64 / requests as f64 * 100.0).round() / 100.0),
            "maxRssMB": (max_rss_mb() * 10.0).round() / 10.0,
            "totalCompleted": completed.load(Relaxed),
            "errors": errors.load(Relaxed),
            "firstError": first_error,
            "drained": drained,
        }))
    });
    match result {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("[scoring floor] failed: {e}");
            std::process::exit(1);
        }
    }
}
