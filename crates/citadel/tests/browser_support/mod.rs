//! Debian's real Chromium, headless, driven through chromedriver, for
//! tests of the web UI as a person sees it: `mod browser_support;`, then
//! one [`Browser`] per test. Chromium is installed on first use, so a fresh
//! machine or CI needs no manual step.

#![allow(dead_code)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a helper keeps retrying: long enough for a page on a 2-core
/// machine busy compiling beside the test (10 s was once too short for a
/// step there), short enough that a missing element fails the test soon.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
const INSTALL_LOCK: &str = "/tmp/citadel-chromium-install.lock";
/// Chromium, its driver, and a Chinese font: without one every Chinese
/// character of the interface renders as a box in the screenshots.
const PACKAGES: &str = "chromium chromium-driver fonts-wqy-microhei";

/// The font file `fonts-wqy-microhei` installs.
const CJK_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

/// `--no-sandbox` because tests run as root in a container; the certificate
/// flag because the test server's certificate is self-signed.
const CHROMIUM_ARGS: [&str; 7] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--ignore-certificate-errors",
    "--window-size=1280,800",
    "--lang=zh-CN",
];

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|file| file.is_file())
}

fn installed() -> Option<PathBuf> {
    on_path("chromedriver")?;
    Path::new(CJK_FONT).exists().then_some(())?;
    on_path("chromium")
}

/// Installs Debian's `chromium` and `chromium-driver` unless both binaries
/// are on PATH; returns the path of `chromium`. Safe to call from many
/// tests and test processes at once: one process installs while the others
/// wait on a file lock, then find the binaries.
pub fn ensure_chromium() -> PathBuf {
    static CHROMIUM: OnceLock<PathBuf> = OnceLock::new();
    let found = CHROMIUM.get_or_init(|| {
        installed().unwrap_or_else(|| {
            install_chromium();
            installed().expect("chromium and chromedriver on PATH after apt-get")
        })
    });
    found.clone()
}

fn install_chromium() {
    // /proc/self belongs to the user the process runs as.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let sudo = if root { "" } else { "sudo -n " };
    let install = format!(
        "{sudo}env DEBIAN_FRONTEND=noninteractive \
         apt-get install -y --no-install-recommends {PACKAGES}"
    );
    // Checked again under the lock: the process that held it may have just
    // installed them. The package lists are refreshed only when the
    // install fails on them, since that costs more than the install.
    let script = format!(
        "command -v chromium >/dev/null && command -v chromedriver >/dev/null && [ -e {CJK_FONT} ] && exit 0; \
         {install} || {{ {sudo}apt-get update && {install}; }}"
    );
    let started = Instant::now();
    let out = Command::new("flock")
        .args([INSTALL_LOCK, "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run flock (util-linux) to install {PACKAGES}: {e}"));
    assert!(
        out.status.success(),
        "installing {PACKAGES} with apt-get failed ({}); install them as root.\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "browser_support: {PACKAGES} there after {:.0?}",
        started.elapsed()
    );
}

/// Where [`Browser::screenshot`] writes: `<target>/screenshots`, with
/// `<target>` the workspace's target directory (a relative
/// `CARGO_TARGET_DIR` is taken from the workspace root, as cargo does when
/// run there).
pub fn screenshot_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
    root.join(target).join("screenshots")
}

/// Starts chromedriver on a free loopback port and waits until it is ready.
async fn start_chromedriver(http: &reqwest::Client) -> (Child, SocketAddr) {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port");
    let mut child = Command::new("chromedriver")
        .arg(format!("--port={}", addr.port()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    // Checked both before and after the answer: another process may have
    // taken the port between the probe and chromedriver's bind.
    let running = |child: &mut Child| child.try_wait().is_ok_and(|s| s.is_none());
    while running(&mut child) && Instant::now() < deadline {
        if let Ok(response) = http.get(format!("http://{addr}/status")).send().await
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == true
            && running(&mut child)
        {
            return (child, addr);
        }
        tokio::time::sleep(POLL).await;
    }
    let _ = child.kill();
    panic!(
        "chromedriver on {addr} not ready in 30 s: {:?}",
        child.wait()
    );
}

/// One headless Chromium window. Every element helper waits up to 10 s for
/// its CSS selector and retries the action meanwhile, so tests need no
/// sleeps; on timeout it panics naming the selector and the page.
pub struct Browser {
    client: Client,
    session: String,
    http: reqwest::Client,
    driver: Child,
    driver_addr: SocketAddr,
    /// Chromium's profile, ours rather than chromedriver's: chromedriver
    /// deletes its own only if it outlives Chromium, and it is killed
    /// first. Dropped last, once Chromium has stopped.
    profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends the session whether the test closed the browser or failed
    /// before: Chromium outlives a killed chromedriver. Blocking, without
    /// the async runtime, which may be shutting down.
    fn drop(&mut self) {
        if let Ok(mut stream) = TcpStream::connect(self.driver_addr) {
            let _ = stream.set_read_timeout(Some(WAIT));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
                self.session, self.driver_addr
            );
            // chromedriver answers once it has told Chromium to quit, and
            // keeps the connection open after: the first bytes are the end.
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read(&mut [0; 512]);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Chromium removes this lock as it exits; then the profile can go.
        let lock = self.profile.path().join("SingletonLock");
        let deadline = Instant::now() + WAIT;
        while lock.symlink_metadata().is_ok() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
}

impl Browser {
    /// Installs Chromium if needed, starts chromedriver and opens a window.
    pub async fn launch() -> Self {
        let chromium = match tokio::task::spawn_blocking(ensure_chromium).await {
            Ok(path) => path,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let profile = tempfile::Builder::new()
            .prefix("citadel-chromium-")
            .tempdir()
            .expect("a profile directory");
        let mut args = CHROMIUM_ARGS.map(String::from).to_vec();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            // Keeps console messages for `console_errors`.
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                // `--lang` sets the UI language only; Accept-Language and
                // navigator.languages come from this preference.
                "prefs": {"intl": {"accept_languages": "zh-CN,zh"}},
            },
        });
        let (mut driver, driver_addr) = start_chromedriver(&http).await;
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(serde_json::from_value(capabilities).expect("capabilities object"))
            .connect(&format!("http://{driver_addr}"))
            .await;
        let client = connected.unwrap_or_else(|e| {
            let _ = driver.kill();
            panic!("chromedriver cannot open a Chromium session: {e}")
        });
        let session = client.session_id().await.ok().flatten();
        Self {
            client,
            session: session.expect("an open session has an id"),
            http,
            driver,
            driver_addr,
            profile,
        }
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn goto(&self, url: &str) {
        let opened = self.client.goto(url).await;
        opened.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The path of the current URL, without query or fragment.
    pub async fn current_path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        url.path().to_owned()
    }

    /// Retries `act` on the element `css` selects until it succeeds or
    /// [`WAIT`] passes: the element may not exist yet, be hidden, or be
    /// replaced while the page renders.
    async fn retry<T, F, Fut>(&self, what: &str, css: &str, mut act: F) -> T
    where
        F: FnMut(Element) -> Fut,
        Fut: Future<Output = Result<T, CmdError>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            let error = match self.client.find(Locator::Css(css)).await {
                Ok(element) => match act(element).await {
                    Ok(value) => return value,
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if Instant::now() > deadline {
                let url = self.client.current_url().await;
                let url = url.map_or_else(|e| format!("an unknown page ({e})"), String::from);
                panic!("timed out after {WAIT:?} to {what} `{css}` on {url}: {error}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits up to [`WAIT`] for the script `condition` to return true.
    pub async fn until(&self, condition: &str) {
        let deadline = Instant::now() + WAIT;
        while self.eval(condition).await != json!(true) {
            assert!(
                Instant::now() <= deadline,
                "still not so after {WAIT:?}: {condition}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fails on any script error or CSP refusal the page reported since
    /// the last look. Chromium also logs each 4xx answer a script received
    /// from the API; those are refusals the page shows, not faults.
    pub async fn no_console_errors(&self, page: &str) {
        let errors: Vec<String> = self
            .console_errors()
            .await
            .into_iter()
            .filter(|e| {
                !(e.contains("/api/v1/") && e.contains("the server responded with a status of 4"))
            })
            .collect();
        assert!(errors.is_empty(), "{page}: {errors:?}");
    }

    /// Waits until the text of `css` contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() <= deadline,
                "timed out after {WAIT:?} waiting for `{css}` to show {needle:?}; it shows {text:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the page's path starts with `prefix`; returns the path.
    pub async fn wait_path(&self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let path = self.current_path().await;
            if path.starts_with(prefix) {
                return path;
            }
            assert!(
                Instant::now() <= deadline,
                "timed out after {WAIT:?} waiting for a page under {prefix}; at {path}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The first element `css` selects, once there is one.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.retry("find", css, |e| async { Ok(e) }).await
    }

    pub async fn click(&self, css: &str) {
        let click = |e: Element| async move { e.click().await };
        self.retry("click", css, click).await;
    }

    /// Replaces the field's value with `text`, typed key by key.
    pub async fn fill(&self, css: &str, text: &str) {
        let fill = |e: Element| async move {
            e.clear().await?;
            e.send_keys(text).await
        };
        self.retry("fill", css, fill).await;
    }

    /// Chooses the option whose `value` attribute is `value`.
    pub async fn select(&self, css: &str, value: &str) {
        let select = |e: Element| async move { e.select_by_value(value).await };
        self.retry("select in", css, select).await;
    }

    /// The element's rendered text.
    pub async fn text(&self, css: &str) -> String {
        let text = |e: Element| async move { e.text().await };
        self.retry("read", css, text).await
    }

    /// Runs `js` as a function body in the page; `return` gives the value.
    pub async fn eval(&self, js: &str) -> Value {
        let result = self.client.execute(js, Vec::new()).await;
        result.unwrap_or_else(|e| panic!("script failed: {e}\n{js}"))
    }

    /// Sizes the viewport to `width` x `height` CSS pixels. WebDriver sizes
    /// the window, and headless Chromium still keeps room for toolbars in
    /// it, so the window is grown by what the viewport lacks.
    pub async fn resize(&self, width: u32, height: u32) {
        let (mut outer_w, mut outer_h) = (width, height);
        for _ in 0..2 {
            let sized = self.client.set_window_size(outer_w, outer_h).await;
            sized.expect("set window size");
            let inner = self.eval("return [innerWidth, innerHeight]").await;
            let size = |i: usize| inner[i].as_u64().and_then(|n| u32::try_from(n).ok());
            let (Some(inner_w), Some(inner_h)) = (size(0), size(1)) else {
                panic!("viewport size is not two numbers: {inner}");
            };
            if (inner_w, inner_h) == (width, height) {
                return;
            }
            outer_w = (outer_w + width).saturating_sub(inner_w);
            outer_h = (outer_h + height).saturating_sub(inner_h);
        }
        panic!("Chromium will not size its viewport to {width}x{height}");
    }

    /// Saves a PNG of the viewport as `<target>/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(screenshot_dir()).expect("screenshot directory");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Console errors since the last call (chromedriver hands each entry
    /// out once): uncaught exceptions, `console.error`, CSP violations and
    /// failed loads, each as Chromium words it, after its source location.
    pub async fn console_errors(&self) -> Vec<String> {
        let url = format!(
            "http://{}/session/{}/se/log",
            self.driver_addr, self.session
        );
        let request = self.http.post(url).json(&json!({"type": "browser"}));
        let response = request.send().await.expect("chromedriver's browser log");
        let body: Value = response.json().await.expect("browser log as JSON");
        let Some(entries) = body["value"].as_array() else {
            panic!("browser log is not a list: {body}");
        };
        entries
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .filter_map(|entry| entry["message"].as_str().map(str::to_owned))
            .collect()
    }

    /// Ends the session, Chromium and chromedriver, as dropping does (which
    /// covers a test that fails before it gets here).
    pub async fn close(self) {
        drop(self);
    }
}
