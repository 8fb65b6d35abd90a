//! Where the CLI gets secrets: environment, files, the OS keychain, a prompt.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use lifeboat_core::backend::{Backend, Location};
use lifeboat_core::crypto::keychain::{KeyStore, OsKeychain};
use lifeboat_core::repo::open::{self, OpenRequest, OpenedWith};
use lifeboat_core::repo::Repository;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::GlobalArgs;

/// Reads a secret file, without its trailing newline.
pub fn read_secret_file(path: &Path) -> Result<SecretString> {
    let text = Zeroizing::new(std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?);
    Ok(text.trim_end_matches(['\n', '\r']).into())
}

/// Whether a person can be asked: a controlling terminal exists (stdin may
/// be the stream being backed up, so the prompt uses the terminal itself).
pub fn can_prompt() -> bool {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok()
}

pub fn prompt(question: &str) -> lifeboat_core::Result<SecretString> {
    rpassword::prompt_password(question)
        .map(SecretString::from)
        .map_err(|e| lifeboat_core::Error::InvalidInput(format!("reading the passphrase: {e}")))
}

/// The passphrase given by environment or file, if any.
pub fn given_passphrase(global: &GlobalArgs) -> Result<Option<SecretString>> {
    if let Ok(p) = std::env::var("LIFEBOAT_PASSWORD") {
        return Ok(Some(p.into()));
    }
    global.password_file.as_deref().map(read_secret_file).transpose()
}

/// A new passphrase: from `env` / `file`, or asked twice on the terminal.
pub fn new_passphrase(env: &str, file: Option<&Path>, what: &str) -> Result<SecretString> {
    let given = match std::env::var(env) {
        Ok(p) => Some(p.into()),
        Err(_) => file.map(read_secret_file).transpose()?,
    };
    let passphrase = match given {
        Some(p) => p,
        None if can_prompt() => {
            let first = prompt(&format!("{what}: "))?;
            if prompt(&format!("{what} again: "))?.expose_secret() != first.expose_secret() {
                bail!("the two passphrases differ: nothing was changed");
            }
            first
        }
        None => bail!("no {what} given: set {env}, pass a file, or run in a terminal to be asked"),
    };
    lifeboat_core::ops::keys::check_new_passphrase(passphrase.expose_secret())?;
    Ok(passphrase)
}

/// The repository's storage (`--repo` / LIFEBOAT_REPO) and its location.
pub fn backend(global: &GlobalArgs) -> Result<(Arc<dyn Backend>, Location)> {
    let Some(location) = global.repo.as_deref() else {
        bail!("no repository given: pass --repo LOCATION (a folder, or s3://bucket/prefix) or set LIFEBOAT_REPO");
    };
    let location = Location::parse(location)?;
    Ok((location.open(keychain(global))?, location))
}

pub fn keychain(global: &GlobalArgs) -> Option<&'static dyn KeyStore> {
    (!global.no_keychain).then_some(&OsKeychain as &dyn KeyStore)
}

/// Opens the repository a copy goes to (`--to`): its passphrase from
/// LIFEBOAT_TO_PASSWORD, `password_file`, the keychain, or a prompt.
pub fn open_target(global: &GlobalArgs, location: &str, password_file: Option<&Path>) -> Result<Repository> {
    let backend = Location::parse(location)?.open(keychain(global))?;
    let passphrase = match std::env::var("LIFEBOAT_TO_PASSWORD") {
        Ok(p) => Some(p.into()),
        Err(_) => password_file.map(read_secret_file).transpose()?,
    };
    let ask = || prompt("Passphrase of the repository to copy to: ");
    let request = OpenRequest {
        recovery_kit: None,
        passphrase,
        keychain: keychain(global),
        prompt: can_prompt().then_some(&ask as &dyn Fn() -> lifeboat_core::Result<SecretString>),
    };
    let opened = open::open(backend, request).with_context(|| format!("opening the repository to copy to, {location}"))?;
    if let Some(warning) = &opened.keychain_warning {
        eprintln!("note: {warning} (--no-keychain silences this)");
    }
    Ok(opened.repo)
}

/// Opens the repository with the first secret that is available.
pub fn open_repo(global: &GlobalArgs) -> Result<Repository> {
    let (backend, _) = backend(global)?;
    let recovery_kit = global.recovery_kit.as_deref().map(read_secret_file).transpose()?;
    let ask = || prompt("Repository passphrase: ");
    let request = OpenRequest {
        recovery_kit,
        passphrase: given_passphrase(global)?,
        keychain: keychain(global),
        prompt: can_prompt().then_some(&ask as &dyn Fn() -> lifeboat_core::Result<SecretString>),
    };
    let mut opened = open::open(backend, request)?;
    if global.no_lock {
        opened.repo.read_without_lock();
    }
    if let Some(warning) = &opened.keychain_warning {
        eprintln!("note: {warning} (--no-keychain silences this)");
    }
    tracing::debug!(
        "opened repository {} with {}",
        opened.repo.id(),
        match opened.with {
            OpenedWith::Passphrase => "a passphrase",
            OpenedWith::RecoveryKit => "a recovery kit",
            OpenedWith::Keychain => "the keychain",
        }
    );
    Ok(opened.repo)
}
