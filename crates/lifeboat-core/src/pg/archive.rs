//! Exact row counts read from a custom-format archive as it streams by:
//! each table's data is COPY text, one line per row, so counting lines per
//! `TABLE DATA` block gives the rows the dump holds, without a second scan
//! of every table on the server.
//!
//! The layout (PostgreSQL's `pg_backup_archiver.c` / `pg_backup_custom.c`):
//! a header, the table of contents, then data blocks: a block type byte, the
//! entry's dump id, and length-prefixed chunks ending with a zero length.
//! Integers are a sign byte and `int_size` little-endian bytes; strings are
//! an integer length (-1 for none) and their bytes. Only archive versions
//! 1.14 to 1.16 (pg_dump 12 to 17) are read; any other is an error and the
//! caller counts on the server instead.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

const MAGIC: &[u8] = b"PGDMP";
const BLOCK_DATA: u8 = 1;
const BLOCK_BLOBS: u8 = 3;

/// Why an archive's rows could not be counted.
#[derive(Debug)]
pub struct Unreadable(pub String);

pub type Parsed<T> = std::result::Result<T, Unreadable>;

struct Reader<R> {
    inner: R,
    int_size: usize,
}

impl<R: Read> Reader<R> {
    fn bytes<const N: usize>(&mut self) -> Parsed<[u8; N]> {
        let mut buf = [0u8; N];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| Unreadable(format!("the archive ended early: {e}")))?;
        Ok(buf)
    }

    fn byte(&mut self) -> Parsed<u8> {
        Ok(self.bytes::<1>()?[0])
    }

    fn int(&mut self) -> Parsed<i64> {
        let negative = self.byte()? != 0;
        let mut value: i64 = 0;
        for shift in 0..self.int_size {
            value |= i64::from(self.byte()?) << (8 * shift);
        }
        if !negative {
            return Ok(value);
        }
        // i64::MIN has no positive counterpart: a hostile stream must not overflow.
        value
            .checked_neg()
            .ok_or_else(|| Unreadable("an integer in the archive is out of range".into()))
    }

    fn string(&mut self) -> Parsed<Option<String>> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        // TOC strings are SQL definitions: far below this, unless the stream is not what it claims.
        const LONGEST: i64 = 256 << 20;
        if len > LONGEST {
            return Err(Unreadable(format!("a {len}-byte string in the table of contents")));
        }
        let mut buf = vec![0u8; len as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| Unreadable(format!("the archive ended early: {e}")))?;
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    fn skip(&mut self, len: u64) -> Parsed<()> {
        let copied = std::io::copy(&mut (&mut self.inner).take(len), &mut std::io::sink())
            .map_err(|e| Unreadable(format!("reading the archive: {e}")))?;
        if copied < len {
            return Err(Unreadable("the archive ended inside a data chunk".into()));
        }
        Ok(())
    }

    /// The chunks of one data block as one stream (read it to its end).
    fn block(&mut self) -> BlockReader<'_, R> {
        BlockReader {
            archive: self,
            left: 0,
            ended: false,
        }
    }
}

/// A data block's length-prefixed chunks, read as one stream that ends at
/// the zero length.
struct BlockReader<'a, R> {
    archive: &'a mut Reader<R>,
    left: u64,
    ended: bool,
}

impl<R: Read> Read for BlockReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
        while self.left == 0 {
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            let len = self.archive.int().map_err(|e| invalid(e.0))?;
            if len == 0 {
                self.ended = true;
                return Ok(0);
            }
            self.left = u64::try_from(len).map_err(|_| invalid("bad chunk length".into()))?;
        }
        let want = self.left.min(buf.len() as u64) as usize;
        let n = self.archive.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(invalid("the archive ended inside a data chunk".into()));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// How an archive's data blocks are compressed (`pg_dump --compress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Lz4,
    Zstd,
}

/// Counts the rows of one data block: its COPY text's lines, less the
/// end-of-data marker `\.` and the blank lines pg_dump writes after it.
/// Compressed blocks are decompressed on the way, 64 KiB at a time.
fn count_block_rows<R: Read>(block: BlockReader<'_, R>, compression: Compression) -> Parsed<u64> {
    let mut block = block;
    let counted = match compression {
        Compression::None => count_lines(&mut block),
        Compression::Gzip => count_lines(flate2::read::ZlibDecoder::new(&mut block)),
        Compression::Zstd => zstd::stream::read::Decoder::new(&mut block).and_then(count_lines),
        Compression::Lz4 => return Err(Unreadable("lz4-compressed archives are not counted by this Lifeboat".into())),
    }
    .map_err(|e| Unreadable(format!("reading a data block: {e}")))?;
    // A decompressor stops at its stream's end: the block ends at the zero length.
    std::io::copy(&mut block, &mut std::io::sink()).map_err(|e| Unreadable(format!("reading a data block: {e}")))?;
    Ok(counted)
}

fn count_lines(mut input: impl Read) -> std::io::Result<u64> {
    let mut lines = 0;
    // The block's last bytes, to recognise the marker at its end.
    let mut tail: Vec<u8> = Vec::with_capacity(16);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        tail.extend_from_slice(&buf[n.saturating_sub(8)..n]);
        tail.drain(..tail.len().saturating_sub(8));
    }
    Ok(lines - marker_lines(&tail))
}

/// How many of the lines at the end of `tail` (a block's last bytes) are
/// the end-of-data marker and the blank lines after it. A row can never be
/// `\.` alone: COPY escapes a backslash in data as `\\`.
fn marker_lines(tail: &[u8]) -> u64 {
    let blanks = tail.iter().rev().take_while(|&&b| b == b'\n').count();
    let before = &tail[..tail.len() - blanks];
    if blanks > 0 && before.ends_with(b"\\.") {
        let at_line_start = before.len() == 2 || before[before.len() - 3] == b'\n';
        if at_line_start {
            return blanks as u64;
        }
    }
    0
}

/// One entry of an archive's table of contents: what `pg_restore -l`
/// lists, with the dump ids each entry depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TocEntry {
    pub dump_id: i64,
    /// `TABLE`, `TABLE DATA`, `INDEX`, `FK CONSTRAINT`, ...
    pub desc: String,
    /// The schema, empty for objects outside one.
    pub namespace: String,
    /// The object's name (for a column default, "table column").
    pub tag: String,
    /// The role owning the object; empty where none is recorded.
    pub owner: String,
    pub dependencies: Vec<i64>,
    /// A data block follows for it (table rows, large objects).
    pub has_data: bool,
    /// Its rows are COPY text, a line each (not `--inserts` statements).
    pub copies: bool,
}

/// What an archive's header says about its dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub compression: Compression,
    /// When pg_dump started, in the dumping machine's local time.
    pub created: Option<chrono::NaiveDateTime>,
    pub database: String,
    /// As the server reported it: "16.4 (Debian 16.4-1)".
    pub server_version: String,
    pub pg_dump_version: String,
}

/// An archive's header and table of contents.
#[derive(Clone, Debug)]
pub struct Contents {
    pub header: Header,
    pub entries: Vec<TocEntry>,
}

/// Reads an archive's header and table of contents, and nothing after.
pub fn table_of_contents(input: impl Read) -> Parsed<Contents> {
    let mut r = Reader { inner: input, int_size: 4 };
    read_toc(&mut r)
}

fn read_toc<R: Read>(r: &mut Reader<R>) -> Parsed<Contents> {
    if r.bytes::<5>()? != *MAGIC {
        return Err(Unreadable("not a custom-format archive".into()));
    }
    let [major, minor, _rev] = r.bytes::<3>()?;
    if major != 1 || !(14..=16).contains(&minor) {
        return Err(Unreadable(format!(
            "archive version {major}.{minor} is not one this Lifeboat reads"
        )));
    }
    let [int_size, off_size, format] = r.bytes::<3>()?;
    if !(1..=8).contains(&int_size) {
        return Err(Unreadable(format!("unexpected integer size {int_size}")));
    }
    // 1: custom; a directory or tar archive's header is not followed by its data.
    if format != 1 {
        return Err(Unreadable(format!(
            "archive format {format} is not the custom format (pg_dump -Fc)"
        )));
    }
    r.int_size = usize::from(int_size);
    let compression = if minor >= 15 {
        match r.byte()? {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Lz4,
            3 => Compression::Zstd,
            other => return Err(Unreadable(format!("unknown compression method {other}"))),
        }
    } else {
        // A zlib level; 0 is none, -1 zlib's default.
        match r.int()? {
            0 => Compression::None,
            _ => Compression::Gzip,
        }
    };
    let mut tm = [0i64; 7];
    for field in &mut tm {
        *field = r.int()?;
    }
    let [sec, min, hour, mday, mon, year, _isdst] = tm;
    // struct tm counts years from 1900 and months from 0; a hostile value must not overflow.
    let created = chrono::NaiveDate::from_ymd_opt(
        year.checked_add(1900).and_then(|y| i32::try_from(y).ok()).unwrap_or(0),
        mon.checked_add(1).and_then(|m| u32::try_from(m).ok()).unwrap_or(0),
        u32::try_from(mday).unwrap_or(0),
    )
    .and_then(|day| {
        day.and_hms_opt(
            u32::try_from(hour).unwrap_or(99),
            u32::try_from(min).unwrap_or(99),
            u32::try_from(sec.min(59)).unwrap_or(99),
        )
    });
    let database = r.string()?.unwrap_or_default();
    let server_version = r.string()?.unwrap_or_default();
    let pg_dump_version = r.string()?.unwrap_or_default();
    let header = Header {
        compression,
        created,
        database,
        server_version,
        pg_dump_version,
    };

    let count = r.int()?;
    // Each entry takes dozens of bytes: a count far past any schema is a damaged stream.
    const MOST_ENTRIES: i64 = 50_000_000;
    if !(0..=MOST_ENTRIES).contains(&count) {
        return Err(Unreadable(format!("{count} entries in the table of contents")));
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        let dump_id = r.int()?;
        let has_data = r.int()? != 0;
        r.string()?; // table oid
        r.string()?; // oid
        let tag = r.string()?.unwrap_or_default();
        let desc = r.string()?.unwrap_or_default();
        r.int()?; // section
        r.string()?; // definition
        r.string()?; // drop statement
        let copies = r.string()?.is_some_and(|statement| !statement.is_empty());
        let namespace = r.string()?.unwrap_or_default();
        r.string()?; // tablespace
        r.string()?; // table access method
        if minor >= 16 {
            r.int()?; // relkind
        }
        let owner = r.string()?.unwrap_or_default();
        r.string()?; // "false": WITH OIDS
        let mut dependencies = Vec::new();
        while let Some(dependency) = r.string()? {
            // pg_dump writes each as a decimal id; anything else names nothing.
            if let Ok(id) = dependency.trim().parse() {
                dependencies.push(id);
            }
        }
        r.byte()?; // data offset: flag
        r.skip(u64::from(off_size))?; // data offset
        entries.push(TocEntry {
            dump_id,
            desc,
            namespace,
            tag,
            owner,
            dependencies,
            has_data,
            copies,
        });
    }
    Ok(Contents { header, entries })
}

/// Reads a whole custom-format archive from `input` and returns the row
/// count of every table it holds data for, keyed `schema.table`.
pub fn count_rows(input: impl Read) -> Parsed<BTreeMap<String, u64>> {
    let mut r = Reader { inner: input, int_size: 4 };
    let contents = read_toc(&mut r)?;
    let compression = contents.header.compression;
    // Rows stored as INSERT statements (`--inserts`) are not a line each: not counted.
    let tables: HashMap<i64, String> = contents
        .entries
        .iter()
        .filter(|e| e.desc == "TABLE DATA" && e.copies)
        .map(|e| (e.dump_id, format!("{}.{}", e.namespace, e.tag)))
        .collect();
    let mut awaited: std::collections::HashSet<i64> = contents.entries.iter().filter(|e| e.has_data).map(|e| e.dump_id).collect();

    let mut counts = BTreeMap::new();
    loop {
        let mut block = [0u8; 1];
        match r.inner.read(&mut block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(Unreadable(format!("reading the archive: {e}"))),
        }
        let dump_id = r.int()?;
        awaited.remove(&dump_id);
        match block[0] {
            BLOCK_DATA => {
                let lines = count_block_rows(r.block(), compression)?;
                if let Some(table) = tables.get(&dump_id) {
                    *counts.entry(table.clone()).or_insert(0) += lines;
                }
            }
            BLOCK_BLOBS => {
                // Large objects: an oid, its chunks, ... until an oid of 0.
                while r.int()? != 0 {
                    std::io::copy(&mut r.block(), &mut std::io::sink()).map_err(|e| Unreadable(format!("reading a large object: {e}")))?;
                }
            }
            other => return Err(Unreadable(format!("unknown data block type {other}"))),
        }
    }
    // A file cut between two blocks ends cleanly: what its contents promise tells.
    if !awaited.is_empty() {
        return Err(Unreadable(format!(
            "the archive ends before the data of {} of its entries",
            awaited.len()
        )));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(out: &mut Vec<u8>, value: i64) {
        out.push(u8::from(value < 0));
        out.extend_from_slice(&value.unsigned_abs().to_le_bytes()[..4]);
    }

    fn string(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            None => int(out, -1),
            Some(s) => {
                int(out, s.len() as i64);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }

    fn entry(out: &mut Vec<u8>, minor: u8, id: i64, tag: &str, desc: &str, namespace: &str) {
        int(out, id);
        int(out, i64::from(desc == "TABLE DATA" || desc == "BLOBS"));
        string(out, Some("1259"));
        string(out, Some("16384"));
        string(out, Some(tag));
        string(out, Some(desc));
        int(out, 3);
        for s in [
            Some(""),
            Some(""),
            Some("COPY x FROM stdin;\n"),
            Some(namespace),
            None,
            Some("heap"),
        ] {
            string(out, s);
        }
        if minor >= 16 {
            int(out, i64::from(b'r'));
        }
        string(out, Some("postgres"));
        string(out, Some("false"));
        string(out, Some("5"));
        string(out, None);
        out.push(1);
        out.extend_from_slice(&[0; 8]);
    }

    /// A hand-built version 1.14 archive: two tables, one empty, and a large object.
    fn archive(version_minor: u8) -> Vec<u8> {
        compressed_archive(version_minor, None)
    }

    /// A compression method's number in the header, and its compressor.
    type Method = (u8, fn(&[u8]) -> Vec<u8>);

    /// [`archive`] with its data blocks compressed by `compress` (1.14:
    /// gzip, as the level says; 1.15+: the method byte says which).
    fn compressed_archive(version_minor: u8, compress: Option<Method>) -> Vec<u8> {
        let mut out = b"PGDMP".to_vec();
        out.extend_from_slice(&[1, version_minor, 0, 4, 8, 1]);
        match (version_minor, compress) {
            (15.., Some((method, _))) => out.push(method),
            (15.., None) => out.push(0),
            (_, Some(_)) => int(&mut out, -1),
            (_, None) => int(&mut out, 0),
        }
        // 2026-11-30 14:05:09
        for field in [9, 5, 14, 30, 10, 126, 0] {
            int(&mut out, field);
        }
        for s in ["shop", "15.18", "15.18"] {
            string(&mut out, Some(s));
        }
        int(&mut out, 4);
        entry(&mut out, version_minor, 10, "orders", "TABLE", "sales");
        entry(&mut out, version_minor, 20, "orders", "TABLE DATA", "sales");
        entry(&mut out, version_minor, 21, "empty", "TABLE DATA", "public");
        entry(&mut out, version_minor, 30, "BLOBS", "BLOBS", "");
        for (id, rows) in [(20, vec!["1\ta\n", "2\tline\\nbreak\n", "3\tc\n"]), (21, vec![])] {
            out.push(BLOCK_DATA);
            int(&mut out, id);
            let text: String = rows.into_iter().chain(["\\.\n\n\n"]).collect();
            let bytes = match compress {
                Some((_, compress)) => compress(text.as_bytes()),
                None => text.into_bytes(),
            };
            // Split, as pg_dump writes a block in several chunks.
            for chunk in bytes.chunks(5) {
                int(&mut out, chunk.len() as i64);
                out.extend_from_slice(chunk);
            }
            int(&mut out, 0);
        }
        out.push(BLOCK_BLOBS);
        int(&mut out, 30);
        int(&mut out, 16500);
        int(&mut out, 6);
        out.extend_from_slice(b"lo\nlo\n");
        int(&mut out, 0);
        int(&mut out, 0);
        out
    }

    #[test]
    fn counts_rows_per_table_and_ignores_large_objects() {
        let counts = count_rows(archive(14).as_slice()).unwrap();
        assert_eq!(
            counts,
            BTreeMap::from([("public.empty".to_string(), 0), ("sales.orders".to_string(), 3)])
        );
    }

    #[test]
    fn compressed_archives_are_counted_and_their_header_read() {
        fn gzip(data: &[u8]) -> Vec<u8> {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut encoder, data).unwrap();
            encoder.finish().unwrap()
        }
        fn zstd(data: &[u8]) -> Vec<u8> {
            zstd::encode_all(data, 3).unwrap()
        }
        let expected = BTreeMap::from([("public.empty".to_string(), 0), ("sales.orders".to_string(), 3)]);
        for (minor, method) in [(14, (1, gzip as fn(&[u8]) -> Vec<u8>)), (15, (1, gzip)), (16, (3, zstd))] {
            let archive = compressed_archive(minor, Some(method));
            assert_eq!(count_rows(archive.as_slice()).unwrap(), expected, "1.{minor}");
        }
        let lz4 = compressed_archive(15, Some((2, gzip)));
        assert!(count_rows(lz4.as_slice()).unwrap_err().0.contains("lz4"));

        let contents = table_of_contents(compressed_archive(16, Some((3, zstd))).as_slice()).unwrap();
        assert_eq!(contents.header.compression, Compression::Zstd);
        assert_eq!(contents.header.database, "shop");
        assert_eq!(contents.header.pg_dump_version, "15.18");
        assert_eq!(contents.header.created.unwrap().to_string(), "2026-11-30 14:05:09");
        assert_eq!(contents.entries.len(), 4);
        assert_eq!(
            (
                contents.entries[0].desc.as_str(),
                contents.entries[0].owner.as_str(),
                &contents.entries[0].dependencies
            ),
            ("TABLE", "postgres", &vec![5])
        );
    }

    #[test]
    fn the_end_of_data_marker_is_not_a_row() {
        assert_eq!(marker_lines(b"\\.\n\n\n"), 3);
        assert_eq!(marker_lines(b"x\n\\.\n\n\n"), 3);
        assert_eq!(marker_lines(b"x\n\\.\n"), 1);
        assert_eq!(marker_lines(b"1\tab\\.\n"), 0, "a row ending in an escaped backslash and a dot");
        assert_eq!(marker_lines(b"1\tabc\n"), 0);
    }

    #[test]
    fn unknown_versions_and_truncated_archives_are_errors() {
        assert!(count_rows(archive(13).as_slice()).unwrap_err().0.contains("1.13"));
        let whole = archive(14);
        assert!(count_rows(&whole[..whole.len() - 10]).is_err());
        assert!(count_rows(&b"not an archive"[..]).is_err());
        // Cut cleanly before the large objects' block: the contents promised it.
        let err = count_rows(&whole[..whole.len() - 32]).unwrap_err();
        assert!(err.0.contains("ends before the data of 1"), "{}", err.0);
        let mut tar = whole.clone();
        tar[10] = 3;
        assert!(count_rows(tar.as_slice()).unwrap_err().0.contains("not the custom format"));
    }

    #[test]
    fn an_integer_that_cannot_be_negated_is_an_error_not_an_overflow() {
        // Header with 8-byte integers; the compression level is -(2^63).
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 14, 0, 8, 8, 1]);
        bytes.push(1);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]);
        let err = count_rows(bytes.as_slice()).unwrap_err();
        assert!(err.0.contains("out of range"), "{}", err.0);
    }
}
