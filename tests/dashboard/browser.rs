//! The browser side of tests/dashboard.rs: chromedriver and Chromium, and DOM waits that
//! poll with a deadline.

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page, element or state may take to show up.
pub const WAIT: Duration = Duration::from_secs(20);
/// How long the job may take from submit to SUCCEEDED.
pub const JOB_WAIT: Duration = Duration::from_secs(180);

/// Polls `check` every 100 ms until it holds; fails the test after `timeout`.
pub async fn until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// chromedriver on a free port, in its own process group: dropping it kills the driver
/// and the browser it started.
pub struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver runs (make deps installs chromium-driver)");
        until("chromedriver listens", WAIT, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn browser(&self) -> Browser {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--hide-scrollbars", "--force-device-scale-factor=1"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium it launched.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn js(b: &Browser, script: &str) -> Value {
    b.execute(script, vec![]).await.expect(script)
}

pub async fn css(b: &Browser, selector: &str) -> fantoccini::elements::Element {
    b.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
}

pub async fn type_into(b: &Browser, selector: &str, text: &str) {
    let input = css(b, selector).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

pub async fn wait_js(b: &Browser, what: &str, timeout: Duration, script: &str) {
    until(what, timeout, || async {
        js(b, script).await == Value::Bool(true)
    })
    .await;
}

pub async fn wait_path(b: &Browser, path: &str) {
    until(&format!("the page {path}"), WAIT, || async {
        b.current_url().await.is_ok_and(|u| u.path() == path)
    })
    .await;
}

pub async fn screenshot(b: &Browser, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = b.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}
