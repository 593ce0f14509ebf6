//! Python for tests: the exported Flask service under a real gunicorn, and pandas reading
//! the scored parquet, so what a learner runs outside the app is checked against the core.
//!
//! `MLOPS_MLFLOW` names the `mlflow` executable of the analysis virtualenv (`./lab install`
//! makes `target/mlflow-venv`, which also has pandas and pyarrow); without it the tests
//! print why they are skipped. The service gets its own virtualenv, made with the system
//! `python3` from the exported `requirements.txt` — as a learner would — and kept under
//! `target/service-venv-<hash>` so later runs skip the `pip install`.
//!
//! Only std and serde_json are used, so another crate's tests can include this file with
//! `#[path = ".../common/python.rs"] mod python;`.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// gunicorn with Flask usually answers `/ping` within a second.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The Python of the analysis virtualenv (pandas, pyarrow), or `None` after printing why
/// the test is skipped.
pub fn analysis_python() -> Option<PathBuf> {
    let Some(mlflow) = std::env::var_os("MLOPS_MLFLOW").map(PathBuf::from) else {
        eprintln!(
            "skipped: MLOPS_MLFLOW is not set; it names the `mlflow` executable of a virtualenv \
             with pandas and pyarrow (`./lab install` makes target/mlflow-venv)"
        );
        return None;
    };
    let python = mlflow.with_file_name("python");
    if !python.is_file() {
        eprintln!("skipped: MLOPS_MLFLOW is {} but there is no {}", mlflow.display(), python.display());
        return None;
    }
    Some(python)
}

/// The interpreter service virtualenvs are made with: `MLOPS_PYTHON3`, else `python3`.
pub fn system_python() -> PathBuf {
    std::env::var_os("MLOPS_PYTHON3").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// Runs a command to its end; its output, or an error quoting its stderr.
pub fn run(command: &mut Command) -> Result<String, String> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A fresh folder under the system's temporary directory, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("mlops-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temporary folder");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Unpacks a zip with Python's own `zipfile`, as a learner's tools would see it.
pub fn unzip(zip_bytes: &[u8], into: &Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(into).map_err(|e| e.to_string())?;
    let archive = into
        .join("..")
        .join(format!("{}.zip", into.file_name().map_or("archive".into(), |n| n.to_string_lossy())));
    std::fs::write(&archive, zip_bytes).map_err(|e| e.to_string())?;
    let listing = run(Command::new(system_python())
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.extractall(sys.argv[2]); print('\\n'.join(z.namelist()))"])
        .arg(&archive)
        .arg(into));
    let _ = std::fs::remove_file(&archive);
    Ok(listing?.lines().map(str::to_string).collect())
}

/// The cargo target folder (`CARGO_TARGET_DIR`, else the workspace's `target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// FNV-1a: stable across Rust versions, unlike `DefaultHasher`, so a venv key lasts.
fn fnv1a(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// A virtualenv with `requirements` installed, made once per requirements text and
/// Python version and reused: `target/service-venv-<hash>`.
///
/// It is built under a temporary name and renamed when complete, so an interrupted
/// install is never reused and two test binaries racing both end up with a whole one.
/// Run its tools as `<venv>/bin/python -m …` (scripts' shebangs name the build path).
pub fn service_venv(requirements: &str) -> Result<PathBuf, String> {
    let python = system_python();
    let version = run(Command::new(&python).arg("--version"))?;
    let key = fnv1a(&format!("{requirements}\n{}", version.trim()));
    let target = target_dir();
    let venv = target.join(format!("service-venv-{key:016x}"));
    if venv.join(".ready").is_file() {
        return Ok(venv);
    }
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let partial = target.join(format!("service-venv-{key:016x}.partial-{}-{nanos}", std::process::id()));
    let built = (|| {
        run(Command::new(&python).args(["-m", "venv"]).arg(&partial))?;
        let file = partial.join("requirements.txt");
        std::fs::write(&file, requirements).map_err(|e| e.to_string())?;
        run(Command::new(partial.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&file))?;
        std::fs::write(partial.join(".ready"), version.trim()).map_err(|e| e.to_string())
    })();
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    if std::fs::rename(&partial, &venv).is_err() {
        // Another test finished first; keep its venv.
        let _ = std::fs::remove_dir_all(&partial);
    }
    if venv.join(".ready").is_file() {
        Ok(venv)
    } else {
        Err(format!("{} is incomplete; delete it and run again", venv.display()))
    }
}

/// [`service_venv`] for the `requirements.txt` of an unzipped service folder.
pub fn service_venv_for(app_dir: &Path) -> Result<PathBuf, String> {
    let file = app_dir.join("requirements.txt");
    let requirements = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    service_venv(&requirements)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// `gunicorn --workers 1 predict:app` serving an unzipped service folder; stopped, with
/// its worker, on drop.
pub struct Gunicorn {
    child: Child,
    pub url: String,
    log: PathBuf,
    pub started_in: Duration,
}

impl Gunicorn {
    /// Starts gunicorn from `venv` in `app_dir` on a free loopback port and waits for `/ping`.
    pub fn start(venv: &Path, app_dir: &Path) -> Result<Gunicorn, String> {
        let started = Instant::now();
        let port = free_port();
        let log = std::env::temp_dir().join(format!("mlops-gunicorn-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(venv.join("bin/python"))
            .args(["-m", "gunicorn", "--bind", &format!("127.0.0.1:{port}"), "--workers", "1", "predict:app"])
            .current_dir(app_dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            // Its own process group, so the drop stops the worker it forks too.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start gunicorn: {e}"))?;
        let mut server =
            Gunicorn { child, url: format!("http://127.0.0.1:{port}"), log, started_in: Duration::ZERO };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok((200, body)) = http("GET", &format!("{}/ping", server.url), None) {
                if body == b"PONG" {
                    break;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "gunicorn exited ({status}) before it answered /ping:\n{}",
                    server.log()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "gunicorn did not answer /ping within {START_TIMEOUT:?}:\n{}",
                    server.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server.started_in = started.elapsed();
        Ok(server)
    }

    /// What gunicorn and the app printed so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Gunicorn {
    fn drop(&mut self) {
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group("-KILL");
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// One HTTP/1.1 request with `Connection: close` to 127.0.0.1: (status, body). The body
/// is sent as JSON. Enough for gunicorn, which answers with a `Content-Length`.
pub fn http(method: &str, url: &str, body: Option<&[u8]>) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .ok_or_else(|| format!("{url}: tests only talk to 127.0.0.1"))?;
    let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let authority = format!("127.0.0.1:{port}");
    let mut stream =
        TcpStream::connect(&authority).map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    stream.write_all(body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| format!("reading the answer: {e}"))?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer has no header end")?;
    let status_line = String::from_utf8_lossy(&raw[..end]).lines().next().unwrap_or_default().to_string();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    Ok((status, raw[end + 4..].to_vec()))
}

/// One `/predict` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub duration: f64,
    pub model_version: String,
}

/// Posts each ride `(PULocationID, DOLocationID, trip_distance)` to `<url>/predict`, in
/// order; any status but 200 is an error naming the ride.
pub fn predict_rides(url: &str, rides: &[(i64, i64, f64)]) -> Result<Vec<Answer>, String> {
    let endpoint = format!("{url}/predict");
    rides
        .iter()
        .map(|&(pu, dol, distance)| {
            let body =
                serde_json::json!({"PULocationID": pu, "DOLocationID": dol, "trip_distance": distance});
            let (status, answer) = http("POST", &endpoint, Some(body.to_string().as_bytes()))?;
            let text = String::from_utf8_lossy(&answer);
            if status != 200 {
                return Err(format!("{body} got {status}: {text}"));
            }
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{text}: {e}"))?;
            Ok(Answer {
                duration: number_text(&text, "duration")
                    .and_then(|number| number.parse().ok())
                    .ok_or_else(|| format!("{body}: no duration in {text}"))?,
                model_version: value["model_version"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// The text of a top-level number in a JSON object, e.g. `12.5` for `"duration"`.
///
/// Parsed with `str::parse`, which rounds correctly; serde_json's default float parser
/// may be one unit in the last place off, which would hide whether two services agree
/// to the bit.
pub fn number_text<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let after_key = &json[json.find(&format!("\"{key}\""))? + key.len() + 2..];
    let value = after_key.trim_start().strip_prefix(':')?.trim_start();
    let end = value.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c))).unwrap_or(value.len());
    Some(&value[..end]).filter(|number| !number.is_empty())
}

/// Reads a scored parquet file with pandas (and its schema with pyarrow) and summarises it.
const PARQUET_SUMMARY: &str = r#"
import json, sys
import pandas as pd
import pyarrow
import pyarrow.parquet as pq

path = sys.argv[1]
df = pd.read_parquet(path)
pickup = df["lpep_pickup_datetime"].astype("int64")
print(json.dumps({
    "pandas": pd.__version__,
    "pyarrow": pyarrow.__version__,
    "columns": list(df.columns),
    "dtypes": {name: str(dtype) for name, dtype in df.dtypes.items()},
    "arrow_types": {field.name: str(field.type) for field in pq.read_schema(path)},
    "rows": int(len(df)),
    "nulls": int(df.isna().sum().sum()),
    "sums": {name: float(df[name].sum()) for name in ["actual_duration", "predicted_duration", "diff"]},
    "zone_sums": [int(df["PULocationID"].sum()), int(df["DOLocationID"].sum())],
    "pickup_min_max": [int(pickup.min()), int(pickup.max())],
    "diff_max_error": float((df["diff"] - (df["actual_duration"] - df["predicted_duration"])).abs().max()),
    "ride_ids": df["ride_id"].head(5).tolist(),
    "unique_ride_ids": int(df["ride_id"].nunique()),
    "model_versions": sorted(df["model_version"].unique().tolist()),
}))
"#;

/// The JSON summary pandas gives of a scored file: `columns`, `dtypes`, `arrow_types`,
/// `rows`, `nulls`, `sums` (actual/predicted/diff), `zone_sums`, `pickup_min_max`
/// (microseconds), `diff_max_error` (|diff − (actual − predicted)| recomputed in pandas),
/// `ride_ids` (the first five), `unique_ride_ids`, `model_versions`.
pub fn parquet_summary(python: &Path, parquet: &Path) -> Result<serde_json::Value, String> {
    let output = run(Command::new(python).args(["-c", PARQUET_SUMMARY]).arg(parquet))?;
    serde_json::from_str(&output).map_err(|e| format!("pandas printed no JSON ({e}):\n{output}"))
}
