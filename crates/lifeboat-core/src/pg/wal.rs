//! PostgreSQL's write-ahead log as files: LSNs, segment names, and the
//! long page header that opens every segment (which cluster wrote it, and
//! its segment size). Read from files a server hands over: hostile input,
//! so every parser here returns None or an error, never panics.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A WAL position, as PostgreSQL prints it: `16/B374D848`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lsn(pub u64);

impl Lsn {
    pub fn parse(text: &str) -> Result<Lsn> {
        let parsed = text.trim().split_once('/').and_then(|(high, low)| {
            let valid = |part: &str| (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit());
            (valid(high) && valid(low))
                .then(|| Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?))
                .flatten()
        });
        parsed.map(Lsn).ok_or_else(|| {
            Error::InvalidInput(format!(
                "`{text}` is not a WAL position (an LSN such as 0/3000060, as pg_current_wal_lsn() prints it)"
            ))
        })
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl TryFrom<String> for Lsn {
    type Error = Error;
    fn try_from(text: String) -> Result<Lsn> {
        Lsn::parse(&text)
    }
}

impl From<Lsn> for String {
    fn from(lsn: Lsn) -> String {
        lsn.to_string()
    }
}

/// The segment sizes PostgreSQL allows (`initdb --wal-segsize`): powers of
/// two from 1 MiB to 1 GiB.
pub fn valid_segment_size(size: u64) -> bool {
    size.is_power_of_two() && ((1 << 20)..=(1 << 30)).contains(&size)
}

/// One WAL segment: its timeline and number, for a given segment size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Segment {
    pub timeline: u32,
    pub number: u64,
}

impl Segment {
    /// The segment of a file name (`000000010000000A000000FE`), if it is one.
    pub fn from_file_name(file: &str, segment_size: u64) -> Option<Segment> {
        if file.len() != 24 || !file.bytes().all(|b| b.is_ascii_hexdigit()) || !valid_segment_size(segment_size) {
            return None;
        }
        let field = |range: std::ops::Range<usize>| u32::from_str_radix(&file[range], 16).ok();
        let (timeline, high, low) = (field(0..8)?, field(8..16)?, field(16..24)?);
        let per_id = 0x1_0000_0000 / segment_size;
        if u64::from(low) >= per_id {
            return None;
        }
        Some(Segment {
            timeline,
            number: u64::from(high) * per_id + u64::from(low),
        })
    }

    /// The segment holding `lsn` on `timeline`.
    pub fn of(lsn: Lsn, timeline: u32, segment_size: u64) -> Segment {
        Segment {
            timeline,
            number: lsn.0 / segment_size,
        }
    }

    pub fn file_name(&self, segment_size: u64) -> String {
        let per_id = 0x1_0000_0000 / segment_size;
        format!("{:08X}{:08X}{:08X}", self.timeline, self.number / per_id, self.number % per_id)
    }

    /// The first position after this segment.
    pub fn end(&self, segment_size: u64) -> Lsn {
        Lsn((self.number + 1).saturating_mul(segment_size))
    }
}

/// What the long page header at the start of a segment says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub system_identifier: u64,
    pub segment_size: u64,
    pub timeline: u32,
}

/// `XLogLongPageHeaderData`: magic (u16), info (u16), timeline (u32), page
/// address (u64), remaining length (u32, padded to 24), system identifier
/// (u64), segment size (u32), block size (u32). Native byte order: every
/// platform PostgreSQL and Lifeboat run on here is little-endian.
pub fn segment_header(first_page: &[u8]) -> Option<SegmentHeader> {
    const XLP_LONG_HEADER: u16 = 0x0002;
    let u16_at = |at: usize| Some(u16::from_le_bytes(first_page.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(first_page.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(first_page.get(at..at + 8)?.try_into().ok()?));
    let magic = u16_at(0)?;
    // Every release since 9.3 uses 0xD0xx or 0xD1xx (15: 0xD110); anything else is not WAL.
    if magic >> 12 != 0xD || u16_at(2)? & XLP_LONG_HEADER == 0 {
        return None;
    }
    let segment_size = u64::from(u32_at(32)?);
    valid_segment_size(segment_size).then_some(SegmentHeader {
        system_identifier: u64_at(24)?,
        segment_size,
        timeline: u32_at(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_and_segment_names_round_trip() {
        let lsn = Lsn::parse("16/B374D848").unwrap();
        assert_eq!(lsn.0, 0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        for bad in ["", "16", "16/", "/1", "g/1", "123456789/0", "1/2/3"] {
            assert!(Lsn::parse(bad).is_err(), "{bad}");
        }
        let size = 16 << 20;
        let segment = Segment::of(lsn, 1, size);
        assert_eq!(segment.file_name(size), "0000000100000016000000B3");
        assert_eq!(Segment::from_file_name("0000000100000016000000B3", size), Some(segment));
        assert_eq!(segment.end(size), Lsn::parse("16/B4000000").unwrap());
        // 0x100 segments of 16 MiB per 4 GiB: FF is the last, 100 is no segment.
        assert!(Segment::from_file_name("000000010000001600000100", size).is_none());
        assert_eq!(
            Segment::from_file_name("0000000200000001000000FF", size).unwrap().number + 1,
            Segment::from_file_name("000000020000000200000000", size).unwrap().number
        );
        assert!(Segment::from_file_name("00000001000000160000000B", 1000).is_none());
    }

    #[test]
    fn a_segment_header_names_its_cluster_and_nothing_else_passes() {
        let mut page = vec![0u8; 8192];
        page[0..2].copy_from_slice(&0xD10Du16.to_le_bytes());
        page[2..4].copy_from_slice(&0x0002u16.to_le_bytes());
        page[4..8].copy_from_slice(&1u32.to_le_bytes());
        page[24..32].copy_from_slice(&7_300_000_000_000_000_001u64.to_le_bytes());
        page[32..36].copy_from_slice(&(16u32 << 20).to_le_bytes());
        let header = segment_header(&page).unwrap();
        assert_eq!(header.system_identifier, 7_300_000_000_000_000_001);
        assert_eq!((header.segment_size, header.timeline), (16 << 20, 1));
        assert!(segment_header(&page[..30]).is_none());
        page[32..36].copy_from_slice(&12345u32.to_le_bytes());
        assert!(segment_header(&page).is_none());
        assert!(segment_header(b"not a WAL segment at all, just some text that is long enough").is_none());
    }
}
