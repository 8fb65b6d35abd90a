//! What a `pg_basebackup` tar tells as it streams by: its `backup_label`
//! (where the backup starts), its `backup_manifest` (where it ends, and
//! that the server wrote one), and the WAL files it carries in `pg_wal/`.
//! The stream itself goes to the repository untouched; [`TarWatcher`] only
//! looks at a copy of its headers and of those few small files.
//!
//! The tar is read as ustar (what pg_basebackup writes): 512-byte headers,
//! sizes in octal or base-256, contents padded to 512 bytes, two zero
//! blocks at the end. Anything else makes the watcher give up and say so;
//! it never stops the backup's bytes.

use std::collections::BTreeMap;

/// The most of `backup_label` and `backup_manifest` kept: a manifest names
/// every file of the cluster (about 150 bytes each), so 64 MiB is some
/// 400,000 files.
const KEPT_MAX: u64 = 64 << 20;

#[derive(Debug, Default)]
enum State {
    #[default]
    Header,
    /// Inside an entry: bytes of content left, then padding.
    Content {
        left: u64,
        padding: u64,
        keep: Option<String>,
    },
    Ended,
    Unreadable(String),
}

/// Follows a tar stream's structure from the bytes [`TarWatcher::feed`] gets.
#[derive(Debug, Default)]
pub struct TarWatcher {
    state: State,
    header: Vec<u8>,
    zero_blocks: u8,
    kept: BTreeMap<String, Vec<u8>>,
    /// Names of the regular files under `pg_wal/`, in stream order.
    pub wal_files: Vec<String>,
    pub entries: u64,
}

/// What the watcher saw, once the stream ended.
#[derive(Debug, Default)]
pub struct TarFacts {
    pub backup_label: Option<String>,
    pub backup_manifest: Option<Vec<u8>>,
    pub wal_files: Vec<String>,
    pub entries: u64,
}

impl TarWatcher {
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Ended | State::Unreadable(_) => return,
                State::Header => {
                    let take = (512 - self.header.len()).min(bytes.len());
                    self.header.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.header.len() == 512 {
                        let header = std::mem::take(&mut self.header);
                        self.state = self.read_header(&header);
                    }
                }
                State::Content { left, padding, keep } => {
                    if *left > 0 {
                        let take = (*left).min(bytes.len() as u64) as usize;
                        if let Some(name) = keep {
                            self.kept.entry(name.clone()).or_default().extend_from_slice(&bytes[..take]);
                        }
                        *left -= take as u64;
                        bytes = &bytes[take..];
                    } else {
                        let take = (*padding).min(bytes.len() as u64) as usize;
                        *padding -= take as u64;
                        bytes = &bytes[take..];
                    }
                    if *left == 0 && *padding == 0 {
                        self.state = State::Header;
                    }
                }
            }
        }
    }

    fn read_header(&mut self, header: &[u8]) -> State {
        if header.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            return if self.zero_blocks == 2 { State::Ended } else { State::Header };
        }
        self.zero_blocks = 0;
        let Some(size) = entry_size(&header[124..136]) else {
            return State::Unreadable("an entry's size is not a number".into());
        };
        let field = |range: std::ops::Range<usize>| {
            let raw = &header[range];
            String::from_utf8_lossy(&raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())]).into_owned()
        };
        let (name, prefix) = (field(0..100), field(345..500));
        let name = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let regular = matches!(header[156], b'0' | 0);
        self.entries += 1;
        let mut keep = None;
        if regular {
            if let Some(file) = name.strip_prefix("pg_wal/").filter(|f| !f.contains('/')) {
                self.wal_files.push(file.to_string());
            } else if (name == "backup_label" || name == "backup_manifest") && size <= KEPT_MAX {
                keep = Some(name);
            }
        }
        State::Content {
            left: size,
            padding: (512 - size % 512) % 512,
            keep,
        }
    }

    /// What was seen; an error when the stream did not end as a tar does.
    pub fn finish(mut self) -> std::result::Result<TarFacts, String> {
        match self.state {
            State::Ended => {}
            State::Unreadable(why) => return Err(why),
            _ => return Err("the tar stream ended before its end-of-archive blocks".into()),
        }
        Ok(TarFacts {
            backup_label: self.kept.remove("backup_label").map(|b| String::from_utf8_lossy(&b).into_owned()),
            backup_manifest: self.kept.remove("backup_manifest"),
            wal_files: self.wal_files,
            entries: self.entries,
        })
    }
}

/// A ustar size field: octal digits (space or NUL ended), or base-256 when
/// its first byte has the high bit set (GNU, for files over 8 GiB).
fn entry_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut size = u64::from(field[0] & 0x7F);
        for &b in &field[1..] {
            size = size.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(size);
    }
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| (b'0'..=b'7').contains(&b))
        .collect();
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(&digits).ok()?, 8).ok()
}

/// `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)` and
/// `START TIMELINE: 1` of a `backup_label`.
pub fn label_start(label: &str) -> Option<(String, u32)> {
    let value = |key: &str| label.lines().find_map(|line| line.strip_prefix(key)).map(str::trim);
    let lsn = value("START WAL LOCATION:")?.split_whitespace().next()?.to_string();
    let timeline = value("START TIMELINE:")?.parse().ok()?;
    Some((lsn, timeline))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, content: &[u8]) -> Vec<u8> {
        let mut header = vec![0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        let size = format!("{:011o}\0", content.len());
        header[124..136].copy_from_slice(size.as_bytes());
        header[156] = b'0';
        let mut out = header;
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    #[test]
    fn the_watcher_keeps_the_label_and_manifest_and_names_the_wal() {
        let label = b"START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIMELINE: 1\n";
        let mut tar = entry("backup_label", label);
        tar.extend(entry("base/1/1259", &vec![7u8; 9000]));
        tar.extend(entry("pg_wal/000000010000000000000002", &vec![1u8; 1024]));
        tar.extend(entry("backup_manifest", b"{\"WAL-Ranges\": []}"));
        tar.extend(vec![0u8; 1024]);
        // Fed in awkward pieces, as a pipe hands them over.
        let mut watcher = TarWatcher::default();
        for piece in tar.chunks(333) {
            watcher.feed(piece);
        }
        let facts = watcher.finish().unwrap();
        assert_eq!(facts.entries, 4);
        assert_eq!(facts.wal_files, ["000000010000000000000002"]);
        assert_eq!(facts.backup_manifest.as_deref(), Some(&b"{\"WAL-Ranges\": []}"[..]));
        let (lsn, timeline) = label_start(&facts.backup_label.unwrap()).unwrap();
        assert_eq!((lsn.as_str(), timeline), ("0/2000028", 1));

        let mut cut = TarWatcher::default();
        cut.feed(&tar[..2000]);
        assert!(cut.finish().is_err());
        let mut garbage = TarWatcher::default();
        garbage.feed(&[b'x'; 2048]);
        assert!(garbage.finish().is_err());
    }
}
