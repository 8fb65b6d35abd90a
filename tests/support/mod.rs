//! Drives the real Lifeboat window: starts `tauri-driver` (which starts
//! WebKitWebDriver, which starts the app binary), opens a WebDriver session,
//! and offers the few waits and actions the suites need. Screenshots go to
//! the artifacts folder so every step can be looked at after a run.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lifeboat_testkit::PgCluster;
pub use thirtyfour::prelude::*;

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// The app binary under test: `LIFEBOAT_DESKTOP_BINARY`, or the debug build
/// in the cargo target folder (`scripts/test` builds it first).
pub fn app_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LIFEBOAT_DESKTOP_BINARY") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/lifeboat-desktop")
}

/// One window test at a time in a test binary: each runs an app, WebKit,
/// its drivers and its servers, and several at once on a 2-core machine
/// turn the suites' waits into timeouts.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The turn of a window test, held until it ends; None when the suite
/// cannot run here (see [`can_run`]).
pub async fn window_turn() -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if !can_run() {
        return None;
    }
    Some(ONE_WINDOW.lock().await)
}

/// Whether the suite can run here: a display, a session bus, the app and
/// the drivers. When `LIFEBOAT_TEST_REQUIRE_E2E` is set (CI), anything
/// missing is a failure instead of a skip.
pub fn can_run() -> bool {
    let mut missing = Vec::new();
    for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
        if std::env::var_os(var).is_none() {
            missing.push(format!("${var}"));
        }
    }
    if !app_binary().exists() {
        missing.push(format!("the app binary {}", app_binary().display()));
    }
    for tool in ["tauri-driver", "WebKitWebDriver"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            missing.push(tool.to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!("missing {} (run the suite through scripts/test)", missing.join(", "));
    if std::env::var_os("LIFEBOAT_TEST_REQUIRE_E2E").is_some() {
        panic!("LIFEBOAT_TEST_REQUIRE_E2E is set but {message}");
    }
    eprintln!("skipped: {message}");
    false
}

/// Where screenshots go: `LIFEBOAT_E2E_ARTIFACTS`, or `e2e-artifacts` in the target folder.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("LIFEBOAT_E2E_ARTIFACTS").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
        target.join("e2e-artifacts")
    });
    std::fs::create_dir_all(&dir).expect("creating the artifacts folder");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct TauriDriver {
    child: Child,
    port: u16,
}

/// Starts `tauri-driver` on free ports and waits until it listens.
fn start_tauri_driver(data_dir: &Path, env: &[(&str, String)]) -> TauriDriver {
    let port = free_port();
    let native_port = free_port();
    let mut child = Command::new("tauri-driver")
        .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
        .env("LIFEBOAT_DATA_DIR", data_dir)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group, which WebKitWebDriver and the app join, so
        // that one signal stops all three (see `kill_process_group`).
        .process_group(0)
        .spawn()
        .expect("starting tauri-driver");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("tauri-driver exited at start: {status}");
        }
        assert!(started.elapsed() < WAIT, "tauri-driver did not listen on port {port}");
        std::thread::sleep(POLL);
    }
    TauriDriver { child, port }
}

/// One run of the app, with its own data folder.
pub struct AppSession {
    pub driver: WebDriver,
    tauri_driver: Child,
}

/// A session that ends without `quit` (a failed assertion, a forgotten call)
/// must not leave its app running: the single-instance plugin would make
/// every later app start exit at once, failing the next suites' sessions.
impl Drop for AppSession {
    fn drop(&mut self) {
        kill_process_group(&mut self.tauri_driver);
    }
}

/// Stops tauri-driver, WebKitWebDriver and the app (one process group).
fn kill_process_group(leader: &mut Child) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", leader.id())]).status();
    let _ = leader.wait();
}

impl AppSession {
    /// Starts the app with `LIFEBOAT_DATA_DIR=data_dir` and waits for its window.
    /// A session that fails to open at the HTTP level (tauri-driver dropping
    /// the first request while WebKitWebDriver comes up on a loaded machine)
    /// is retried on fresh ports; any other failure is reported at once.
    pub async fn start(data_dir: &Path) -> AppSession {
        Self::start_with_env(data_dir, &[]).await
    }

    /// As [`AppSession::start`], with these variables in the app's environment.
    pub async fn start_with_env(data_dir: &Path, env: &[(&str, String)]) -> AppSession {
        // The WebDriver client shares Lifeboat's reqwest, built without a TLS provider.
        lifeboat_core::backend::install_tls_provider();
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            let mut tauri_driver = start_tauri_driver(data_dir, env);
            let mut caps = Capabilities::new();
            caps.set("browserName", "wry").unwrap();
            caps.set(
                "tauri:options",
                serde_json::json!({ "application": app_binary().display().to_string() }),
            )
            .unwrap();
            match WebDriver::new(format!("http://127.0.0.1:{}", tauri_driver.port), caps).await {
                Ok(driver) => {
                    return AppSession {
                        driver,
                        tauri_driver: tauri_driver.child,
                    }
                }
                Err(error) if attempt < ATTEMPTS && matches!(error.as_inner(), thirtyfour::error::WebDriverErrorInner::HttpError(_)) => {
                    eprintln!("opening a WebDriver session failed ({error}); retrying");
                    kill_process_group(&mut tauri_driver.child);
                }
                Err(error) => panic!("opening a WebDriver session on the app: {error:?}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// On the first-run screen: creates a repository at `location` with `passphrase`.
    pub async fn create_repository(&self, location: &Path, passphrase: &str) {
        self.wait("#first-run").await;
        self.fill("#create-location", &location.display().to_string()).await;
        self.fill("#create-passphrase", passphrase).await;
        self.fill("#create-passphrase-confirm", passphrase).await;
        self.click("#create-submit").await;
        self.wait("#current-repo").await;
    }

    /// On the Connections screen: saves connection `name` to `url`, untested.
    pub async fn save_connection(&self, name: &str, url: &str) {
        self.click("#nav-connections").await;
        self.fill("#conn-name", name).await;
        self.fill("#conn-url", url).await;
        self.wait("#conn-host").await;
        self.click("#conn-save").await;
        self.wait(&format!("#connections-list .connection-row[data-name='{name}']")).await;
    }

    /// Closes the window (the app exits) and stops the drivers.
    pub async fn quit(self) {
        let _ = self.driver.clone().quit().await;
    }

    /// The text of the first element matching `css` when it is rendered
    /// (a box with a size, not `visibility: hidden`), else None. Read in the
    /// page: WebKitWebDriver's own visibility atom misjudges some elements.
    async fn rendered_text(&self, css: &str) -> Option<String> {
        const SCRIPT: &str = "const e = document.querySelector(arguments[0]); \
             if (!e) return null; const r = e.getBoundingClientRect(); \
             if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === 'hidden') return null; \
             return e.innerText ?? e.textContent;";
        let result = self.driver.execute(SCRIPT, vec![serde_json::json!(css)]).await.ok()?;
        result.json().as_str().map(str::to_owned)
    }

    async fn timeout(&self, css: &str, what: String) -> ! {
        self.shot(&format!("timeout-{}", css.replace(|c: char| !c.is_alphanumeric(), "_")))
            .await;
        panic!("{what}");
    }

    /// Waits until `css` matches a rendered element and returns it.
    pub async fn wait(&self, css: &str) -> WebElement {
        let started = Instant::now();
        loop {
            if self.rendered_text(css).await.is_some() {
                if let Ok(element) = self.driver.find(By::Css(css)).await {
                    return element;
                }
            }
            if started.elapsed() > WAIT {
                self.timeout(css, format!("no rendered element {css} after {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the element's text contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        self.wait_text_for(css, needle, WAIT).await
    }

    /// [`AppSession::wait_text`] for a job that takes longer than most.
    pub async fn wait_text_for(&self, css: &str, needle: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            let text = self.rendered_text(css).await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            if started.elapsed() > limit {
                self.timeout(css, format!("{css} never contained {needle:?} in {limit:?}; last text: {text:?}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until exactly `count` elements match `css`.
    pub async fn wait_count(&self, css: &str, count: usize) -> Vec<WebElement> {
        let started = Instant::now();
        loop {
            let found = self.driver.find_all(By::Css(css)).await.unwrap_or_default();
            if found.len() == count {
                return found;
            }
            assert!(started.elapsed() < WAIT, "{css}: expected {count} elements, found {}", found.len());
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn is_present(&self, css: &str) -> bool {
        !self.driver.find_all(By::Css(css)).await.unwrap_or_default().is_empty()
    }

    pub async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Replaces the field's content with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Steps 1 and 2 of the restore wizard: `database`'s snapshot labelled
    /// `label`, onto the database of that name on `target` (its `password`
    /// typed when given), up to the preflight's findings.
    pub async fn restore_source_and_target(&self, database: &str, label: &str, target: &PgCluster, password: Option<&str>) {
        self.restore_source(database, label).await;
        self.restore_target(target, database, password).await;
        self.click("#restore-check").await;
        self.wait_text("#restore-preflight", &target.major.to_string()).await;
    }

    /// Step 1 of the restore wizard: `database`'s snapshot labelled `label`.
    pub async fn restore_source(&self, database: &str, label: &str) {
        self.click("#nav-restore").await;
        self.choose("#restore-database", database).await;
        self.wait_option("#restore-snapshot", label).await;
        self.click_when_enabled("#restore-next-source").await;
    }

    /// Step 2's fields: `target` as postgres (its `password` typed when
    /// given), and the database to restore into (or connect through).
    pub async fn restore_target(&self, target: &PgCluster, database: &str, password: Option<&str>) {
        self.fill("#restore-host", "127.0.0.1").await;
        self.fill("#restore-port", &target.port.to_string()).await;
        self.fill("#restore-user", "postgres").await;
        self.fill("#restore-target-db", database).await;
        if let Some(password) = password {
            self.fill("#restore-password", password).await;
        }
    }

    /// Steps 3 to 5 of the restore wizard: verify, restore, and the result's
    /// row counts.
    pub async fn verify_and_restore(&self) -> String {
        self.click_when_enabled("#restore-next-target").await;
        self.click("#restore-verify").await;
        self.click_when_enabled("#restore-next-verify").await;
        self.click("#restore-start").await;
        self.wait_text("#restore-result", "Restored").await;
        self.wait_text("#restore-rows", "public.orders").await
    }

    /// Puts `text` into a field as pasting would: typed keys lose a
    /// textarea's line breaks under WebKitWebDriver.
    pub async fn paste(&self, css: &str, text: &str) {
        const SCRIPT: &str = "const field = document.querySelector(arguments[0]); field.value = arguments[1]; \
                              field.dispatchEvent(new Event('input', { bubbles: true }));";
        self.wait(css).await;
        self.driver
            .execute(SCRIPT, vec![serde_json::json!(css), serde_json::json!(text)])
            .await
            .unwrap_or_else(|e| panic!("pasting into {css}: {e}"));
    }

    /// Picks `value` in a <select> once it is offered, as a person choosing
    /// from the list would.
    pub async fn choose(&self, css: &str, value: &str) {
        self.wait(css).await;
        const SCRIPT: &str = "const e = document.querySelector(arguments[0]); \
             if (![...e.options].some(o => o.value === arguments[1])) return false; \
             e.value = arguments[1]; e.dispatchEvent(new Event('change', { bubbles: true })); return true;";
        let started = Instant::now();
        loop {
            let chosen = self
                .driver
                .execute(SCRIPT, vec![serde_json::json!(css), serde_json::json!(value)])
                .await
                .unwrap_or_else(|e| panic!("choosing {value:?} in {css}: {e}"));
            if chosen.json().as_bool() == Some(true) {
                return;
            }
            if started.elapsed() > WAIT {
                self.timeout(css, format!("{css} never offered {value:?} after {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the <select> matching `css` offers an option whose text contains `needle`.
    pub async fn wait_option(&self, css: &str, needle: &str) {
        const SCRIPT: &str = "const e = document.querySelector(arguments[0]); \
             return !!e && [...e.options].some(o => o.text.includes(arguments[1]));";
        let started = Instant::now();
        loop {
            let args = vec![serde_json::json!(css), serde_json::json!(needle)];
            if let Ok(found) = self.driver.execute(SCRIPT, args).await {
                if found.json().as_bool() == Some(true) {
                    return;
                }
            }
            if started.elapsed() > WAIT {
                self.timeout(css, format!("{css} never offered an option with {needle:?} after {WAIT:?}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether the control matching `css` can be used (not disabled).
    pub async fn is_enabled(&self, css: &str) -> bool {
        self.wait(css).await;
        const SCRIPT: &str = "return !document.querySelector(arguments[0]).disabled;";
        let result = self.driver.execute(SCRIPT, vec![serde_json::json!(css)]).await.unwrap();
        result.json().as_bool() == Some(true)
    }

    /// Waits until the control matching `css` can be used, then clicks it.
    pub async fn click_when_enabled(&self, css: &str) {
        let started = Instant::now();
        while !self.is_enabled(css).await {
            if started.elapsed() > WAIT {
                self.timeout(css, format!("{css} never became enabled after {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
        self.click(css).await;
    }

    /// Scrolls the element into view (for the next screenshot) and returns it.
    pub async fn show(&self, css: &str) -> WebElement {
        let element = self.wait(css).await;
        let _ = element.scroll_into_view().await;
        element
    }

    /// Saves a screenshot of the window as `<artifacts>/<name>.png`.
    pub async fn shot(&self, name: &str) {
        // Let the last render reach the screen.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let path = artifacts_dir().join(format!("{name}.png"));
        if let Err(e) = self.driver.screenshot(&path).await {
            eprintln!("screenshot {name} failed: {e}");
        }
    }
}
