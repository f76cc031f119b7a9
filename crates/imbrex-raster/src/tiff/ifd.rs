//! Reading the TIFF structure (header and image file directories) with as few range
//! requests as possible, and without trusting any size the file states.
//!
//! The first request reads a generous head (64 KiB): for COGs it holds every IFD and every
//! tag array. IFDs or arrays outside it are fetched afterwards, arrays in one merged batch.
//! Every count is checked against the file size and the header-size limit before any
//! allocation, so a hostile header cannot make us allocate without bound.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::source::{RangeSource, read_exact, read_ranges};

/// Bytes read by the first request.
pub const HEAD_SIZE: u64 = 64 * 1024;
/// More IFDs than this is not an image we serve.
const MAX_IFDS: usize = 256;
/// More entries in one IFD than this is a corrupt or hostile file.
const MAX_ENTRIES: u64 = 4096;

/// Byte order of a TIFF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    pub fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        }
    }

    pub fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        }
    }

    pub fn u64(self, b: &[u8]) -> u64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match self {
            ByteOrder::Little => u64::from_le_bytes(a),
            ByteOrder::Big => u64::from_be_bytes(a),
        }
    }
}

/// A raw tag value: its TIFF type, count and bytes in file order.
#[derive(Clone, Debug)]
pub struct TagValue {
    pub field_type: u16,
    pub count: u64,
    pub data: Bytes,
    pub order: ByteOrder,
}

/// Size in bytes of one value of a TIFF field type.
fn type_size(t: u16) -> Option<u64> {
    Some(match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

impl TagValue {
    /// Values as unsigned integers (integer types only).
    pub fn as_u64s(&self) -> Option<Vec<u64>> {
        let n = self.count as usize;
        let d = &self.data;
        let o = self.order;
        Some(match self.field_type {
            1 | 7 => d[..n].iter().map(|&v| v as u64).collect(),
            3 => (0..n).map(|i| o.u16(&d[i * 2..]) as u64).collect(),
            4 | 13 => (0..n).map(|i| o.u32(&d[i * 4..]) as u64).collect(),
            16 | 18 => (0..n).map(|i| o.u64(&d[i * 8..])).collect(),
            _ => return None,
        })
    }

    /// The first value as an unsigned integer.
    pub fn first_u64(&self) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let o = self.order;
        let d = &self.data;
        Some(match self.field_type {
            1 | 7 => d[0] as u64,
            3 => o.u16(d) as u64,
            4 | 13 => o.u32(d) as u64,
            16 | 18 => o.u64(d),
            _ => return None,
        })
    }

    /// Values as floats (any numeric type).
    pub fn as_f64s(&self) -> Option<Vec<f64>> {
        let n = self.count as usize;
        let d = &self.data;
        let o = self.order;
        Some(match self.field_type {
            11 => (0..n).map(|i| f32::from_bits(o.u32(&d[i * 4..])) as f64).collect(),
            12 => (0..n).map(|i| f64::from_bits(o.u64(&d[i * 8..]))).collect(),
            5 => (0..n).map(|i| o.u32(&d[i * 8..]) as f64 / o.u32(&d[i * 8 + 4..]) as f64).collect(),
            10 => (0..n).map(|i| o.u32(&d[i * 8..]) as i32 as f64 / o.u32(&d[i * 8 + 4..]) as i32 as f64).collect(),
            6 => d[..n].iter().map(|&v| v as i8 as f64).collect(),
            8 => (0..n).map(|i| o.u16(&d[i * 2..]) as i16 as f64).collect(),
            9 => (0..n).map(|i| o.u32(&d[i * 4..]) as i32 as f64).collect(),
            17 => (0..n).map(|i| o.u64(&d[i * 8..]) as i64 as f64).collect(),
            _ => self.as_u64s()?.into_iter().map(|v| v as f64).collect(),
        })
    }

    /// An ASCII value, up to its first NUL.
    pub fn as_string(&self) -> Option<String> {
        if self.field_type != 2 && self.field_type != 1 && self.field_type != 7 {
            return None;
        }
        let end = self.data.iter().position(|&b| b == 0).unwrap_or(self.data.len());
        Some(String::from_utf8_lossy(&self.data[..end]).into_owned())
    }
}

/// One image file directory: its tags, keyed by tag number.
#[derive(Clone, Debug, Default)]
pub struct RawIfd {
    /// Offset of the IFD in the file (identifies it in messages).
    pub offset: u64,
    pub tags: BTreeMap<u16, TagValue>,
}

impl RawIfd {
    pub fn get(&self, tag: u16) -> Option<&TagValue> {
        self.tags.get(&tag)
    }

    pub fn u64(&self, tag: u16) -> Option<u64> {
        self.get(tag)?.first_u64()
    }

    pub fn u64s(&self, tag: u16) -> Option<Vec<u64>> {
        self.get(tag)?.as_u64s()
    }

    pub fn f64s(&self, tag: u16) -> Option<Vec<f64>> {
        self.get(tag)?.as_f64s()
    }

    pub fn string(&self, tag: u16) -> Option<String> {
        self.get(tag)?.as_string()
    }
}

/// The structure of a TIFF file: byte order, flavour and every IFD of the main chain.
#[derive(Clone, Debug)]
pub struct TiffStructure {
    pub order: ByteOrder,
    pub bigtiff: bool,
    pub ifds: Vec<RawIfd>,
    /// Object size, when the source reported it.
    pub file_size: Option<u64>,
    /// Bytes fetched to read the structure.
    pub header_bytes: u64,
}

/// Fetched header bytes: a few segments, looked up by absolute offset.
struct HeaderBytes {
    segments: Vec<(u64, Bytes)>,
    fetched: u64,
}

impl HeaderBytes {
    fn get(&self, range: Range<u64>) -> Option<Bytes> {
        self.segments.iter().find_map(|(start, b)| {
            let end = start + b.len() as u64;
            (range.start >= *start && range.end <= end)
                .then(|| b.slice((range.start - start) as usize..(range.end - start) as usize))
        })
    }
}

/// True when the bytes start like a TIFF file.
pub fn is_tiff(head: &[u8]) -> bool {
    head.len() >= 4
        && (head.starts_with(b"II*\0")
            || head.starts_with(b"MM\0*")
            || head.starts_with(b"II+\0")
            || head.starts_with(b"MM\0+"))
}

/// Read the TIFF header and IFD chain of `source`, given its first bytes.
pub async fn read_structure(
    source: &dyn RangeSource,
    head: Bytes,
    file_size: Option<u64>,
    max_header_bytes: u64,
) -> Result<TiffStructure> {
    let id = source.id().to_string();
    let corrupt = |reason: String| Error::corrupt(&id, reason);
    if head.len() < 8 {
        return Err(corrupt("file too short to be a TIFF".into()));
    }
    let order = match &head[..2] {
        b"II" => ByteOrder::Little,
        b"MM" => ByteOrder::Big,
        _ => return Err(Error::unsupported(format!("{id} is not a TIFF file"))),
    };
    let (bigtiff, first_ifd) = match order.u16(&head[2..]) {
        42 => (false, order.u32(&head[4..]) as u64),
        43 => {
            if head.len() < 16 || order.u16(&head[4..]) != 8 {
                return Err(corrupt("invalid BigTIFF header".into()));
            }
            (true, order.u64(&head[8..]))
        }
        _ => return Err(Error::unsupported(format!("{id} is not a TIFF file"))),
    };
    let (count_size, entry_size, offset_size) = if bigtiff { (8u64, 20u64, 8u64) } else { (2, 12, 4) };

    let mut hb = HeaderBytes { fetched: head.len() as u64, segments: vec![(0, head)] };
    let mut ifds = Vec::new();
    let mut pending: Vec<(usize, u16, u16, u64, Range<u64>)> = Vec::new();
    let mut seen = HashSet::new();
    let mut next = first_ifd;

    while next != 0 {
        if ifds.len() >= MAX_IFDS {
            return Err(corrupt(format!("more than {MAX_IFDS} IFDs")));
        }
        if !seen.insert(next) {
            return Err(corrupt(format!("IFD chain loops back to offset {next}")));
        }
        if let Some(size) = file_size
            && next >= size
        {
            return Err(corrupt(format!("IFD offset {next} is past the end of the file ({size} bytes)")));
        }
        let ifd_offset = next;
        let count_bytes = ensure(source, &mut hb, ifd_offset..ifd_offset + count_size, max_header_bytes).await?;
        let count = if bigtiff { order.u64(&count_bytes) } else { order.u16(&count_bytes) as u64 };
        if count == 0 || count > MAX_ENTRIES {
            return Err(corrupt(format!("IFD at {ifd_offset} has {count} entries")));
        }
        let body_start = ifd_offset + count_size;
        let body_len = count * entry_size + offset_size;
        let body = ensure(source, &mut hb, body_start..body_start + body_len, max_header_bytes).await?;
        let mut raw = RawIfd { offset: ifd_offset, tags: BTreeMap::new() };
        for i in 0..count as usize {
            let e = &body[i * entry_size as usize..(i + 1) * entry_size as usize];
            let tag = order.u16(e);
            let field_type = order.u16(&e[2..]);
            let (n, value_field) =
                if bigtiff { (order.u64(&e[4..]), &e[12..20]) } else { (order.u32(&e[4..]) as u64, &e[8..12]) };
            let Some(size) = type_size(field_type) else {
                continue; // Unknown types are skipped, as libtiff does.
            };
            let total = n.checked_mul(size).ok_or_else(|| corrupt(format!("tag {tag}: count {n} overflows")))?;
            if total > max_header_bytes {
                return Err(Error::LimitExceeded { limit: "TIFF tag size", value: total, max: max_header_bytes });
            }
            if total <= offset_size {
                raw.tags.insert(
                    tag,
                    TagValue {
                        field_type,
                        count: n,
                        data: Bytes::copy_from_slice(&value_field[..total as usize]),
                        order,
                    },
                );
            } else {
                let off = if bigtiff { order.u64(value_field) } else { order.u32(value_field) as u64 };
                let end = off.checked_add(total).ok_or_else(|| corrupt(format!("tag {tag}: offset overflows")))?;
                if let Some(size) = file_size
                    && end > size
                {
                    return Err(corrupt(format!(
                        "tag {tag} data ends at {end}, past the end of the file ({size} bytes)"
                    )));
                }
                pending.push((ifds.len(), tag, field_type, n, off..end));
            }
        }
        let next_field = &body[(count * entry_size) as usize..];
        next = if bigtiff { order.u64(next_field) } else { order.u32(next_field) as u64 };
        ifds.push(raw);
    }
    if ifds.is_empty() {
        return Err(corrupt("no image in the file".into()));
    }

    // Out-of-line values not already in the head: one merged batch.
    let missing: Vec<Range<u64>> =
        pending.iter().filter(|p| hb.get(p.4.clone()).is_none()).map(|p| p.4.clone()).collect();
    let extra: u64 = missing.iter().map(|r| r.end - r.start).sum();
    if hb.fetched + extra > max_header_bytes {
        return Err(Error::LimitExceeded {
            limit: "TIFF header size",
            value: hb.fetched + extra,
            max: max_header_bytes,
        });
    }
    if !missing.is_empty() {
        let fetched = read_ranges(source, &missing).await?;
        for (r, b) in missing.iter().zip(fetched) {
            hb.fetched += b.len() as u64;
            hb.segments.push((r.start, b));
        }
    }
    for (i, tag, field_type, n, range) in pending {
        let data = hb.get(range).expect("fetched above");
        ifds[i].tags.insert(tag, TagValue { field_type, count: n, data, order });
    }
    Ok(TiffStructure { order, bigtiff, ifds, file_size, header_bytes: hb.fetched })
}

/// The bytes of `range`, fetching them (with some read-ahead) when they are not in hand yet.
async fn ensure(source: &dyn RangeSource, hb: &mut HeaderBytes, range: Range<u64>, max: u64) -> Result<Bytes> {
    if let Some(b) = hb.get(range.clone()) {
        return Ok(b);
    }
    // Read ahead: IFDs of a file are usually near each other.
    let want = (range.end - range.start).max(16 * 1024);
    if hb.fetched + want > max {
        return Err(Error::LimitExceeded { limit: "TIFF header size", value: hb.fetched + want, max });
    }
    let got = source.fetch(range.start..range.start + want).await?;
    if (got.bytes.len() as u64) < range.end - range.start {
        return Err(Error::corrupt(
            source.id(),
            format!("truncated header: IFD data at {}..{} is missing", range.start, range.end),
        ));
    }
    hb.fetched += got.bytes.len() as u64;
    hb.segments.push((range.start, got.bytes));
    Ok(hb.get(range).expect("just fetched"))
}

/// Fetch the head of a source: the first [`HEAD_SIZE`] bytes (fewer for small files).
pub async fn read_head(source: &dyn RangeSource) -> Result<(Bytes, Option<u64>)> {
    let got = source.fetch(0..HEAD_SIZE).await?;
    Ok((got.bytes, got.total_size))
}

/// Read exactly a range of a source (re-exported for the decoders' block fetches).
pub async fn read_block(source: &dyn RangeSource, range: Range<u64>) -> Result<Bytes> {
    read_exact(source, range).await
}
