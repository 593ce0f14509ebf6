//! A real MLflow tracking server for tests, and a tiny HTTP client to talk to it.
//!
//! `MLOPS_MLFLOW` names the `mlflow` executable of a virtualenv (`./lab install` makes
//! one in `target/mlflow-venv`); without it, [`mlflow_executable`] prints why the test is
//! skipped. The server runs on 127.0.0.1 only, in a fresh temporary folder, and is
//! stopped — with every process it started — when the [`MlflowServer`] is dropped.
//! Include with `#[path = "common/mlflow.rs"] mod mlflow;`.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlops_core::tracking::rest::{HttpResponse, HttpTransport};

/// How long the server may take to answer `/health`; it usually takes 5–10 s.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The `mlflow` executable from `MLOPS_MLFLOW`, or `None` after printing why the test
/// is skipped.
pub fn mlflow_executable() -> Option<PathBuf> {
    let Some(path) = std::env::var_os("MLOPS_MLFLOW").map(PathBuf::from) else {
        eprintln!(
            "skipped: MLOPS_MLFLOW is not set; it names the `mlflow` executable of a virtualenv \
             (`./lab install` makes target/mlflow-venv)"
        );
        return None;
    };
    if !path.is_file() {
        eprintln!(
            "skipped: MLOPS_MLFLOW is {} but there is no such file; run `./lab install`",
            path.display()
        );
        return None;
    }
    Some(path)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A running `mlflow server`, stopped on drop.
pub struct MlflowServer {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
    pub executable: PathBuf,
    pub started_in: Duration,
}

impl MlflowServer {
    /// Starts `mlflow server` with SQLite and proxied artifacts in a fresh temporary
    /// folder, plus `extra_args`, and waits for `/health`.
    pub fn start(executable: &Path, extra_args: &[&str]) -> MlflowServer {
        let started = Instant::now();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("mlops-mlflow-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the server's folder");
        let port = free_port();
        let log = std::fs::File::create(dir.join("server.log")).expect("create the server log");
        let log_err = log.try_clone().expect("clone the log handle");
        let child = Command::new(executable)
            .arg("server")
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            .args(extra_args)
            // Background jobs (a job runner and several queue consumers) serve features we
            // do not use and cost ~1 GB and seconds of start-up.
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .env_remove("MLFLOW_TRACKING_URI")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group, so dropping the guard stops the workers it forks too.
            .process_group(0)
            .spawn()
            .expect("start mlflow server");
        let mut server = MlflowServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            executable: executable.to_path_buf(),
            started_in: Duration::ZERO,
        };
        server.wait_until_healthy();
        server.started_in = started.elapsed();
        server
    }

    fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(response) = request("GET", &format!("{}/health", self.url), None, &[]) {
                if response.status == 200 {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mlflow server exited ({status}) before it was ready:\n{}", self.log());
            }
            if Instant::now() > deadline {
                panic!("mlflow server did not answer /health within {START_TIMEOUT:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The server's output so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The virtualenv's Python, which has MLflow's own client.
    pub fn python(&self) -> PathBuf {
        self.executable.with_file_name("python")
    }

    fn signal_group(&self, signal: &str) {
        // The group id is the child's pid (process_group(0)); `kill -SIG -PGID` reaches
        // the CLI and the uvicorn worker it forked, and nothing else.
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.signal_group("-KILL");
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTP answer with its headers (lower-cased names), for the CORS checks.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`, read to the end. Only loopback
/// addresses are allowed: tests never send traffic anywhere else.
pub fn request(
    method: &str,
    url: &str,
    body: Option<(&[u8], &str)>,
    headers: &[(&str, &str)],
) -> Result<RawResponse, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// is supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let host = authority.rsplit_once(':').map_or(authority, |(host, _)| host);
    if !matches!(host, "127.0.0.1" | "localhost") {
        return Err(format!("{url}: tests only talk to 127.0.0.1"));
    }
    let mut stream =
        TcpStream::connect(authority).map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| e.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((bytes, content_type)) = body {
        head.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n", bytes.len()));
    } else if matches!(method, "POST" | "PUT") {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    if let Some((bytes, _)) = body {
        stream.write_all(bytes).map_err(|e| e.to_string())?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| format!("reading the answer: {e}"))?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<RawResponse, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer has no header end")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(RawResponse { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk header")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("bad chunk size `{size_text}`: {e}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("truncated chunk")?);
        data = data.get(size + 2..).ok_or("truncated chunk")?;
    }
}

/// [`HttpTransport`] over [`request`], as the app's `fetch` transport would be.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpTransport;

impl HttpTransport for TcpTransport {
    async fn send(&self, method: &str, url: &str, json_body: Option<String>) -> Result<HttpResponse, String> {
        let body = json_body.as_deref().map(|text| (text.as_bytes(), "application/json"));
        request(method, url, body, &[]).map(|r| HttpResponse { status: r.status, body: r.body })
    }

    async fn send_bytes(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<HttpResponse, String> {
        request(method, url, Some((body, content_type)), &[])
            .map(|r| HttpResponse { status: r.status, body: r.body })
    }
}

#[test]
fn chunked_answers_are_joined() {
    let raw =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n";
    let response = parse_response(raw).expect("parses");
    assert_eq!(response.body, b"Wikipedia ");
    assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
}
