//! A real browser for the web console's tests: Debian's headless Chromium driven through
//! chromedriver (WebDriver, plain HTTP on loopback) with fantoccini.
//!
//! Each [`Browser`] starts its own chromedriver on a free port and its own Chromium
//! profile and download folder, so tests running in parallel do not share cookies or
//! downloads. Without `chromium` and `chromedriver` a test is skipped with a `SKIPPED`
//! line, or fails under `REPLYD_REQUIRE_ALL=1` (see `needs.rs`); `scripts/test` installs
//! both.

use super::needs::{needs, Need};
use super::{free_port, TempDir};
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the machine has Chromium and chromedriver (else the test is skipped or fails).
pub fn browser_available() -> bool {
    needs(&[Need::Program("chromium"), Need::Program("chromedriver")])
}

/// A headless Chromium session.
pub struct Browser {
    pub client: Client,
    /// Where downloads land.
    pub downloads: PathBuf,
    driver: Child,
    _dir: TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium.
    pub async fn start() -> Browser {
        let dir = TempDir::new("browser");
        let downloads = dir.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver could not be started");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": which("chromium"),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--window-size=1000,900",
                    format!("--user-data-dir={}", dir.path().join("profile").display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "safebrowsing.enabled": false,
                },
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://{addr}"))
            .await
            .expect("no WebDriver session with headless Chromium");
        Browser {
            client,
            downloads,
            driver,
            _dir: dir,
        }
    }

    /// Opens `path` on `server`.
    pub async fn open(&self, server: SocketAddr, path: &str) {
        self.client
            .goto(&format!("http://{server}{path}"))
            .await
            .unwrap();
    }

    /// The path of the page shown.
    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// Waits (up to 10 s) until the page's URL satisfies `done`: a click on a submit button
    /// returns before the next page is there.
    pub async fn wait_for_url(&self, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.client.current_url().await.unwrap();
            if done(url.as_str()) {
                return;
            }
            assert!(Instant::now() < deadline, "still on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap(),
            Err(e) => {
                let source = self.client.source().await.unwrap_or_default();
                panic!("no {css} on {}: {e}\n{source}", self.path().await)
            }
        }
    }

    /// Signs in on the login page with `secret`.
    pub async fn sign_in(&self, server: SocketAddr, secret: &str) {
        self.open(server, "/console/login").await;
        let field = self
            .client
            .find(Locator::Css("input[name=secret]"))
            .await
            .unwrap();
        field.send_keys(secret).await.unwrap();
        self.client
            .find(Locator::Css("form.login button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        if let Err(e) = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("header nav"))
            .await
        {
            let source = self.client.source().await.unwrap_or_default();
            panic!("not signed in ({e}) on {}:\n{source}", self.path().await);
        }
    }

    /// No JavaScript dialog (alert, confirm, prompt) is open.
    pub async fn assert_no_dialog(&self) {
        match self.client.get_alert_text().await {
            Err(e) if e.is_no_such_alert() => {}
            Ok(text) => panic!("a dialog opened: {text:?}"),
            Err(e) => panic!("could not ask for a dialog: {e}"),
        }
    }

    /// Writes a PNG of the page to `target/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The file named `name` once it is fully downloaded (waits up to 20 s).
    pub fn downloaded(&self, name: &str) -> Vec<u8> {
        let path = self.downloads.join(name);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(bytes) = std::fs::read(&path) {
                return bytes;
            }
            if Instant::now() > deadline {
                let found: Vec<_> = std::fs::read_dir(&self.downloads)
                    .map(|d| d.flatten().map(|e| e.file_name()).collect())
                    .unwrap_or_default();
                panic!("{name} was not downloaded (the folder holds {found:?})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends the browser session and chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// chromedriver, and every Chromium process of this browser's profile: a test that
    /// fails mid-way leaves no browser running (Chromium's helpers outlive chromedriver).
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        kill_processes_of(&self._dir.path().join("profile"));
    }
}

/// Kills (by pid) the processes started with `--user-data-dir=<profile>`.
fn kill_processes_of(profile: &Path) {
    let marker = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == marker.as_bytes())
        {
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `target/console-screenshots/`, where a person looks at the pages.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-screenshots")
}

/// The path of `program` on `PATH`, or its bare name.
fn which(program: &str) -> String {
    super::needs::find_program(program)
        .map_or_else(|_| program.to_string(), |p| p.display().to_string())
}
