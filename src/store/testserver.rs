//! A real `redis-server` for the store's tests: its own process on a free
//! 127.0.0.1 port, no persistence, killed on drop; it can be killed and
//! restarted on the same port. `tls()` serves TLS only, with the test PKI of
//! testing/fixtures.
//!
//! redis-server runs under a small sh watchdog (as in
//! __test__/helpers/redis.mjs) that SIGKILLs it when our end of its stdin
//! closes: on `kill()` and drop, and also when the test binary dies without
//! unwinding (SIGKILL, a harness timeout), so no server outlives a run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const INSTALL_HINT: &str =
    "redis-server is needed for the token store tests and was not found on PATH. \
Install it: `apt-get install -y redis-server` (Debian/Ubuntu), `brew install redis` (macOS), \
or `node scripts/ensure-redis.js` (what `npm test` and CI run first)";

/// Its first argument is the server's dir, made before and removed after.
/// Its own messages go to /dev/null, so that none can end it with SIGPIPE
/// before the clean-up once the test binary is gone.
const WATCHDOG: &str = "dir=$1; shift
mkdir -p \"$dir\"
exec 3<&0
redis-server \"$@\" </dev/null &
pid=$!
exec 2>/dev/null
(read _ <&3; kill -9 $pid 2>/dev/null) &
wait $pid; status=$?
rm -rf \"$dir\"
exit $status";

pub struct RedisServer {
    pub port: u16,
    tls: bool,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testing/fixtures")
        .join(name)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl RedisServer {
    /// Plain TCP; `extra` are more `redis-server` arguments.
    pub async fn start(extra: &[&str]) -> RedisServer {
        Self::launch(false, extra).await
    }

    /// TLS only (`--port 0 --tls-port P`), certificate for 127.0.0.1 and
    /// localhost signed by testing/fixtures/ca.pem.
    pub async fn tls() -> RedisServer {
        Self::launch(true, &[]).await
    }

    async fn launch(tls: bool, extra: &[&str]) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("wmln-redis-{}-{port}", std::process::id()));
        let mut args: Vec<String> = vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--daemonize".into(),
            "no".into(),
            "--loglevel".into(),
            "warning".into(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        if tls {
            let f = |n: &str| fixture(n).display().to_string();
            args.extend([
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port.to_string(),
                "--tls-cert-file".into(),
                f("cert.pem"),
                "--tls-key-file".into(),
                f("key.pem"),
                "--tls-ca-cert-file".into(),
                f("ca.pem"),
                "--tls-auth-clients".into(),
                "no".into(),
            ]);
        } else {
            args.extend(["--port".into(), port.to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut me = RedisServer {
            port,
            tls,
            args,
            dir,
            child: None,
        };
        me.spawn().await;
        me
    }

    async fn spawn(&mut self) {
        match Command::new("redis-server").arg("--version").output() {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
            Err(e) => panic!("cannot run redis-server: {e}"),
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start sh for redis-server");
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Until it answers PING (plain) or accepts connections (TLS).
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "redis-server exited at start ({status}) on port {}",
                    self.port
                );
            }
            if self.answers().await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        if self.tls {
            return true;
        }
        if s.write_all(b"*1\r\n$4\r\nPING\r\n").await.is_err() {
            return false;
        }
        // +PONG, or -NOAUTH with --requirepass: either way it answers.
        let mut buf = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(1), s.read_exact(&mut buf)).await,
            Ok(Ok(_))
        ) && (buf[0] == b'+' || buf[0] == b'-')
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// SIGKILL, like a crash: no goodbye to the clients.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Closing its stdin makes the watchdog kill -9 redis-server.
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }

    /// A fresh (empty) server on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// A plain client of our own, for looking at and changing what is stored.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        assert!(!self.tls, "raw() is for the plain server");
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection to the test redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
