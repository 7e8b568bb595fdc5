//! Where the store lives and how we get a connection to it: the URL
//! (`redis://`, `rediss://`, and Valkey's `valkey://`, `valkeys://`), TCP,
//! rustls with the HTTP client's own configuration (`crate::http::tls`: the
//! webpki and system roots plus `ca_cert`, a pinned self-signed certificate,
//! or no verification), then the `redis` crate's multiplexed connection on
//! that stream (it sends AUTH and SELECT, and pipelines our commands).

use super::StoreError;
use crate::error::{Error, Result};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;

const DEFAULT_PORT: u16 = 6379;

/// A parsed store URL. `Debug` and `Display` never show the password.
pub(super) struct Target {
    host: String,
    port: u16,
    db: i64,
    info: RedisConnectionInfo,
    tls: Option<Tls>,
}

struct Tls {
    ca_cert: Option<String>,
    insecure: bool,
    /// Built on the first connection (loads the system roots once).
    config: OnceLock<std::result::Result<Arc<ClientConfig>, String>>,
}

impl Target {
    /// Parses and checks `raw`; no I/O. Errors name the `store` option and
    /// never repeat the URL (it may carry a password).
    pub(super) fn parse(
        raw: &str,
        ca_cert: Option<&str>,
        disable_ssl_verification: bool,
    ) -> Result<Target> {
        let bad = |why: &str| Error::invalid(format!("store: {why}"));
        let u = url::Url::parse(raw.trim()).map_err(|e| {
            bad(&format!(
                "not a valid URL ({e}); expected redis://[user:password@]host[:port][/db] or rediss://..."
            ))
        })?;
        let tls = match u.scheme() {
            "redis" | "valkey" => false,
            "rediss" | "valkeys" => true,
            s => {
                return Err(bad(&format!(
                    "unsupported scheme {s}: (use redis:// or rediss://)"
                )))
            }
        };
        let host = match u.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("the URL has no host")),
        };
        if u.query().is_some() || u.fragment().is_some() {
            return Err(bad(
                "URL options (?... or #...) are not supported; use the store options (caCert, disableSslVerification)",
            ));
        }
        let db = match u.path().trim_matches('/') {
            "" => 0,
            p => p
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| bad("the URL path must be a database number, like /0"))?,
        };
        let mut info = RedisConnectionInfo::default().set_db(db);
        if !u.username().is_empty() {
            let user = percent_encoding::percent_decode_str(u.username())
                .decode_utf8()
                .map_err(|_| bad("the URL's user name is not UTF-8"))?;
            info = info.set_username(user);
        }
        if let Some(pw) = u.password() {
            let pw = percent_encoding::percent_decode_str(pw)
                .decode_utf8()
                .map_err(|_| bad("the URL's password is not UTF-8"))?;
            info = info.set_password(pw);
        }
        let ca_cert = ca_cert.filter(|c| !c.trim().is_empty());
        if let Some(pem) = ca_cert {
            crate::http::tls::parse_pem_bundle(pem).map_err(|e| bad(e.message()))?;
        }
        if !tls && (ca_cert.is_some() || disable_ssl_verification) {
            return Err(bad(
                "caCert and disableSslVerification apply to rediss:// only (the URL is redis://)",
            ));
        }
        Ok(Target {
            port: u.port().unwrap_or(DEFAULT_PORT),
            host,
            db,
            info,
            tls: tls.then(|| Tls {
                ca_cert: ca_cert.map(str::to_string),
                insecure: disable_ssl_verification,
                config: OnceLock::new(),
            }),
        })
    }

    /// A new connection: TCP, TLS if `rediss`, then AUTH/SELECT. The caller
    /// bounds the whole of it with a timeout; `response_timeout` bounds each
    /// later command on the connection. Its driver task runs on the current
    /// runtime and ends when the last clone of the connection is dropped or
    /// the socket closes.
    pub(super) async fn connect(
        &self,
        response_timeout: Duration,
    ) -> std::result::Result<MultiplexedConnection, StoreError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| StoreError::Connect(format!("cannot connect to {self}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(response_timeout));
        match &self.tls {
            None => start(&self.info, tcp, config).await,
            Some(tls) => {
                let client_config = tls
                    .config
                    .get_or_init(|| tls.client_config().map(Arc::new))
                    .clone()
                    .map_err(StoreError::Tls)?;
                let name = ServerName::try_from(self.host.clone()).map_err(|_| {
                    StoreError::Tls(format!("{} is not a valid TLS name", self.host))
                })?;
                let stream = tokio_rustls::TlsConnector::from(client_config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        StoreError::Tls(format!(
                            "TLS with {self} failed: {}; pass caCert to trust a private CA",
                            crate::http::root_cause(&e)
                        ))
                    })?;
                start(&self.info, stream, config).await
            }
        }
        .map_err(|e| StoreError::from_redis(&e, self))
    }
}

/// AUTH/SELECT on `stream`, then the connection's driver as a task of the
/// current runtime.
async fn start<S>(
    info: &RedisConnectionInfo,
    stream: S,
    config: AsyncConnectionConfig,
) -> redis::RedisResult<MultiplexedConnection>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (conn, driver) = MultiplexedConnection::new_with_config(info, stream, config).await?;
    tokio::spawn(driver);
    Ok(conn)
}

impl Tls {
    fn client_config(&self) -> std::result::Result<ClientConfig, String> {
        crate::http::tls::client_config(!self.insecure, self.ca_cert.as_deref())
            .map_err(|e| e.message().to_string())
    }
}

/// `redis://host:port/db` or `rediss://...`: never the user or password.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}/{}", self.host, self.port, self.db)
        } else {
            write!(f, "{scheme}://{}:{}/{}", self.host, self.port, self.db)
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        if self.info.password().is_some() {
            f.write_str(" (with password)")?;
        }
        Ok(())
    }
}
