//! The packages `scripts/package` builds, installed for real: the desktop
//! `.deb` through `apt-get install ./…deb`, its window started from
//! `/usr/bin` under Xvfb, the `lifeboat` CLI it carries, its removal (which
//! leaves the user's data alone), then the CLI-only `.deb` on the data the
//! app left, and the `.rpm`'s contents and dependencies (Debian cannot
//! install it; `rpm` reads it).
//!
//! Ignored by a plain `cargo test`: it needs the packages built and root (or
//! sudo) for apt. `scripts/test` builds them (`scripts/package --debug`) and
//! runs it with `--ignored` and `LIFEBOAT_DESKTOP_BINARY=/usr/bin/lifeboat-desktop`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lifeboat_core::paths::Paths;
use lifeboat_e2e::*;

const PASSPHRASE: &str = "installed from a package";
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs scripts/package and root: run by scripts/test"]
async fn the_desktop_package_installs_starts_and_uninstalls_leaving_the_data_and_the_cli_package_reads_it() {
    let packages = packages_dir();
    let desktop_deb = package_file(&packages, &format!("Lifeboat_{VERSION}_amd64.deb"));
    let cli_deb = package_file(&packages, &format!("lifeboat-cli_{VERSION}-1_amd64.deb"));
    let rpm = package_file(&packages, &format!("Lifeboat-{VERSION}-1.x86_64.rpm"));
    assert_eq!(
        app_binary(),
        Path::new("/usr/bin/lifeboat-desktop"),
        "LIFEBOAT_DESKTOP_BINARY must name the installed app"
    );
    assert!(
        std::env::var_os("LIFEBOAT_DATA_DIR").is_none(),
        "the installed app must keep its data where a user's is"
    );
    let user_data = Paths::from_env().unwrap();

    // 1. Install the desktop package: app, CLI, desktop entry and icons.
    let desktop = Installed::new("lifeboat", &desktop_deb);
    let status = run(Command::new("dpkg-query").args(["-W", "-f", "${Status} ${Version}", "lifeboat"]));
    assert_eq!(status, format!("install ok installed {VERSION}"));
    let version = run(Command::new("/usr/bin/lifeboat").arg("--version"));
    assert_eq!(version, format!("lifeboat {VERSION}"));
    let entry = std::fs::read_to_string("/usr/share/applications/Lifeboat.desktop").unwrap();
    assert!(
        entry.contains("Exec=lifeboat-desktop") && entry.contains("Name=Lifeboat"),
        "{entry}"
    );
    assert!(Path::new("/usr/share/icons/hicolor/128x128/apps/lifeboat-desktop.png").exists());

    // 2. Start the installed app; create a repository from its first-run screen.
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("nas/lifeboat");
    {
        let _turn = window_turn().await.expect("the window test can run");
        let app = AppSession::start_with_env(dir.path(), &[("LIFEBOAT_DATA_DIR", String::new())]).await;
        app.wait("#first-run").await;
        app.shot("installed-01-first-run").await;
        app.create_repository(&location, PASSPHRASE).await;
        app.wait_text("#current-repo", "nas/lifeboat").await;
        app.shot("installed-02-repository-created").await;
        app.quit().await;
    }
    assert!(
        user_data.catalog().exists(),
        "the app keeps its catalog in {}",
        user_data.data_dir.display()
    );

    // 3. Remove it: the programs go, the user's data and repository stay.
    desktop.remove();
    assert!(!Path::new("/usr/bin/lifeboat-desktop").exists());
    assert!(!Path::new("/usr/bin/lifeboat").exists());
    assert!(user_data.catalog().exists(), "removing the package keeps the catalog");
    assert!(location.join("config").exists(), "removing the package keeps the repository");

    // 4. The CLI-only package opens what the app left.
    let cli = Installed::new("lifeboat-cli", &cli_deb);
    assert_eq!(
        run(Command::new("/usr/bin/lifeboat").arg("--version")),
        format!("lifeboat {VERSION}")
    );
    let passphrase_file = dir.path().join("passphrase");
    std::fs::write(&passphrase_file, PASSPHRASE).unwrap();
    let check = run(Command::new("/usr/bin/lifeboat")
        .arg("check")
        .arg("--repo")
        .arg(&location)
        .arg("--password-file")
        .arg(&passphrase_file)
        .arg("--no-keychain"));
    assert!(check.contains("repository is healthy"), "{check}");
    cli.remove();
    assert!(!Path::new("/usr/bin/lifeboat").exists());
    assert!(location.join("config").exists());

    // 5. The .rpm carries the same files and declares its libraries.
    let files = run(Command::new("rpm").arg("-qpl").arg(&rpm));
    for file in [
        "/usr/bin/lifeboat",
        "/usr/bin/lifeboat-desktop",
        "/usr/share/applications/Lifeboat.desktop",
    ] {
        assert!(files.lines().any(|line| line == file), "{file} missing from the rpm:\n{files}");
    }
    let requires = run(Command::new("rpm").arg("-qp").arg("--requires").arg(&rpm));
    assert!(requires.contains("libwebkit2gtk-4.1.so.0"), "{requires}");
    assert!(requires.contains("dbus-libs"), "{requires}");
}

fn packages_dir() -> PathBuf {
    std::env::var_os("LIFEBOAT_PACKAGES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/packages"))
}

fn package_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: run scripts/package --debug first", path.display());
    path
}

/// A package installed by this test, removed again even when an assertion fails.
struct Installed {
    name: &'static str,
    removed: bool,
}

impl Installed {
    fn new(name: &'static str, deb: &Path) -> Installed {
        // apt wants a path, not a bare name, to install a local file.
        let deb = std::fs::canonicalize(deb).unwrap();
        run(as_root("apt-get").args(["install", "-y", "-q"]).arg(&deb));
        Installed { name, removed: false }
    }

    fn remove(mut self) {
        run(as_root("apt-get").args(["remove", "-y", "-q", self.name]));
        self.removed = true;
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.removed {
            let _ = as_root("apt-get").args(["remove", "-y", "-q", self.name]).status();
        }
    }
}

/// `program` run as root: directly when the test is root (CI), else through `sudo -n`.
fn as_root(program: &str) -> Command {
    let uid = run(Command::new("id").arg("-u"));
    let mut command = if uid == "0" {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", program]);
        sudo
    };
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Runs `command`, fails with its output unless it succeeds, returns its trimmed stdout.
fn run(command: &mut Command) -> String {
    let Output { status, stdout, stderr } = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&stdout).trim().to_owned();
    assert!(
        status.success(),
        "{command:?} failed ({status}):\n{stdout}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}
