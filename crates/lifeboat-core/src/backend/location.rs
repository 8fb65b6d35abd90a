//! What a repository location may be. Today: a local folder or a mounted
//! share, given as a path or a `file://` URL. Anything else that looks like
//! a URL is refused with what is supported, never taken as a folder name
//! (`s3://bucket` would otherwise become a folder called `s3:`).

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The folder `location` names.
pub fn local_path(location: &str) -> Result<PathBuf> {
    let location = location.trim();
    if location.is_empty() {
        return Err(Error::InvalidInput(
            "no repository location given: a local folder or a mounted share, as a path".into(),
        ));
    }
    let Some((scheme, rest)) = url_scheme(location) else {
        return Ok(PathBuf::from(location));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => match url::Url::parse(location).ok().and_then(|url| url.to_file_path().ok()) {
            Some(path) => Ok(path),
            None => Err(Error::InvalidInput(format!(
                "{location} is not a usable file:// URL: write file:///absolute/path, or just the path"
            ))),
        },
        "s3" | "sftp" => Err(Error::InvalidInput(format!(
            "{location}: this version of Lifeboat keeps repositories in a local folder or a mounted share (a NAS \
             over NFS or SMB), not on {} servers yet: give a path",
            if scheme.eq_ignore_ascii_case("s3") { "S3" } else { "SFTP" }
        ))),
        _ => Err(Error::InvalidInput(format!(
            "{location}: Lifeboat does not know locations starting with `{scheme}:/{rest_hint}`; a repository is a \
             local folder or a mounted share, given as a path or a file:/// URL",
            rest_hint = if rest.starts_with('/') { "/" } else { "" }
        ))),
    }
}

/// `("s3", "//bucket")` for `s3://bucket`; `None` for a path, including a
/// Windows one (`C:\backups`, `C:/backups`), whose "scheme" is one letter.
fn url_scheme(location: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = location.split_once(':')?;
    let is_scheme = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (is_scheme && rest.starts_with('/')).then_some((scheme, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_file_urls_are_folders() {
        assert_eq!(local_path("/mnt/nas/lifeboat").unwrap(), PathBuf::from("/mnt/nas/lifeboat"));
        assert_eq!(local_path("  backups/team ").unwrap(), PathBuf::from("backups/team"));
        assert_eq!(local_path("C:\\backups").unwrap(), PathBuf::from("C:\\backups"));
        assert_eq!(local_path("C:/backups").unwrap(), PathBuf::from("C:/backups"));
        assert_eq!(
            local_path("a:b/c").unwrap(),
            PathBuf::from("a:b/c"),
            "no slash after the colon: a name"
        );
        #[cfg(unix)]
        assert_eq!(local_path("file:///srv/lifeboat").unwrap(), PathBuf::from("/srv/lifeboat"));
    }

    #[test]
    fn other_schemes_are_refused_with_what_works() {
        for location in ["s3://team-backups/lifeboat", "S3://b", "sftp://admin@nas:22/backups"] {
            let err = local_path(location).unwrap_err().to_string();
            assert!(err.contains("local folder or a mounted share"), "{err}");
        }
        let err = local_path("gs://bucket/x").unwrap_err().to_string();
        assert!(err.contains("does not know locations starting with `gs://`"), "{err}");
        assert!(local_path("file://host-name/x").is_err(), "a remote file URL");
        assert!(local_path("   ").is_err());
    }
}
