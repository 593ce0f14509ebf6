//! Serving `dist/` on loopback and opening headless Chromium on it, shared by the
//! end-to-end tests and the wasm benchmark (`examples/bench_wasm.rs`).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use tokio::process::{Child, Command};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Site {
    _server: Child,
    driver: Child,
    /// The served folder; the browser profiles live in it too, so both go when the site does.
    dir: PathBuf,
    pub base: String,
    driver_url: String,
}

impl Drop for Site {
    /// A Chromium profile is a few hundred MB, and a test that panics never closes its
    /// browser: stop the driver and any browser still on a profile here, then remove
    /// the folder, so repeated runs do not fill the disk.
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
        let profiles = self.dir.join("chromium-");
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(profiles.as_os_str())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file from the shared TLC data folder next to the project, if it is there.
pub fn shared_file(name: &str) -> Option<PathBuf> {
    let path = root().join("../shared/data").join(name);
    path.is_file().then(|| path.canonicalize().unwrap_or(path))
}

/// Serves dist/ at http://127.0.0.1:PORT/course/ (a sub-path, as instructors host it).
pub async fn start_site(data_dir: Option<&Path>) -> Site {
    // One folder per site: tests run in parallel in one process.
    static SITES: AtomicUsize = AtomicUsize::new(0);
    let n = SITES.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("mlops-lab-e2e-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let link = dir.join("course");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(root().join("dist"), &link).expect("symlink dist");
    if let Some(data_dir) = data_dir {
        let data_link = dir.join("data");
        let _ = std::fs::remove_file(&data_link);
        std::os::unix::fs::symlink(data_dir, &data_link).expect("symlink data");
    }
    let port = free_port();
    let server = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string(), "--directory"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 http.server");
    let driver_port = free_port();
    let driver = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={driver_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver");
    for _ in 0..100 {
        let up = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
        if up(port) && up(driver_port) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Site {
        _server: server,
        driver,
        dir,
        base: format!("http://127.0.0.1:{port}/course/"),
        driver_url: format!("http://127.0.0.1:{driver_port}"),
    }
}

pub async fn browser(site: &Site) -> Client {
    let profile = site.dir.join(format!("chromium-{}", free_port()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_string(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&site.driver_url)
        .await
        .expect("a WebDriver session")
}

// ----- driving pages -----

pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Returns false (after saying why) when a prerequisite is missing outside CI.
pub fn prerequisites() -> bool {
    let missing = if !root().join("dist/index.html").is_file() {
        Some("dist/ is not built (run ./lab build)")
    } else if !Path::new("/usr/bin/chromedriver").is_file() {
        Some("/usr/bin/chromedriver is not installed (./lab install)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(reason) if std::env::var_os("CI").is_some() => {
            panic!("end-to-end test cannot run in CI: {reason}")
        }
        Some(reason) => {
            eprintln!("SKIPPED: {reason}");
            false
        }
    }
}

pub async fn text_of(client: &Client, css: &str) -> Option<String> {
    let element = client.find(Locator::Css(css)).await.ok()?;
    element.text().await.ok()
}

/// Waits until the element's text satisfies `done`; panics with what was seen.
pub async fn wait_text(client: &Client, css: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let seen = text_of(client, css).await;
        if let Some(text) = &seen {
            if done(text) {
                return text.clone();
            }
        }
        if let Some(error) = text_of(client, "[data-testid=error]").await {
            panic!("the page shows an error while waiting for {css}: {error}");
        }
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {css}; last text: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Scrolls the element to the middle of the window: the app's header is sticky, so an
/// element WebDriver sees at the top edge of the viewport would have its click taken by
/// the header.
pub async fn centre(client: &Client, css: &str) {
    let script =
        "document.querySelector(arguments[0])?.scrollIntoView({ block: 'center', inline: 'center' })";
    let _ = client.execute(script, vec![serde_json::Value::String(css.to_string())]).await;
}

/// Clicks the element once it is enabled, scrolled to the middle of the window first.
pub async fn click_when_enabled(client: &Client, css: &str) {
    let start = Instant::now();
    loop {
        if let Ok(button) = client.find(Locator::Css(css)).await {
            if button.is_enabled().await.unwrap_or(false) {
                centre(client, css).await;
                button.click().await.expect("click");
                return;
            }
        }
        assert!(start.elapsed() < TIMEOUT, "{css} never became enabled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Keeps a picture of the page in target/e2e-screenshots/ for a person to look at.
pub async fn save_screenshot(client: &Client, name: &str) {
    let _ = client.execute("document.querySelector('[data-testid=results]')?.scrollIntoView()", vec![]).await;
    let dir = root().join("target/e2e-screenshots");
    if let (Ok(png), Ok(())) = (client.screenshot().await, std::fs::create_dir_all(&dir)) {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}
