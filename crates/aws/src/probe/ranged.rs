//! A `Read + Seek` view of an S3 object made of ranged GETs, for container parsers
//! that read a file (the Matroska demuxer): blocks of [`BLOCK_BYTES`] are fetched as
//! the parser asks for them and kept, so a header read as many small reads costs a
//! few requests. It runs on a blocking thread (`tokio::task::spawn_blocking`) and
//! waits there for each GET.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use vidpipe_domain::PortError;

/// Bytes one ranged GET fetches.
pub const BLOCK_BYTES: u64 = 256 << 10;
/// Bytes a probe may read from one object before it is refused: a header that needs
/// more is not one vidpipe reads (a file without an index, walked cluster by cluster).
pub const MAX_PROBE_BYTES: u64 = 32 << 20;

/// The object `len` bytes long that `fetch(start, end)` reads (a ranged GET of
/// `start..end`).
pub struct RangedReader<F> {
    len: u64,
    position: u64,
    blocks: BTreeMap<u64, Vec<u8>>,
    fetch: F,
    /// Bytes fetched so far.
    pub fetched: u64,
    /// Requests made so far.
    pub requests: usize,
}

impl<F: FnMut(u64, u64) -> Result<Vec<u8>, PortError>> RangedReader<F> {
    pub fn new(len: u64, fetch: F) -> Self {
        RangedReader {
            len,
            position: 0,
            blocks: BTreeMap::new(),
            fetch,
            fetched: 0,
            requests: 0,
        }
    }

    fn block(&mut self, index: u64) -> io::Result<&[u8]> {
        if !self.blocks.contains_key(&index) {
            let start = index * BLOCK_BYTES;
            let end = (start + BLOCK_BYTES).min(self.len);
            if self.fetched + (end - start) > MAX_PROBE_BYTES {
                return Err(io::Error::other(format!(
                    "the header needs more than {MAX_PROBE_BYTES} bytes read"
                )));
            }
            let bytes = (self.fetch)(start, end).map_err(io::Error::other)?;
            self.fetched += bytes.len() as u64;
            self.requests += 1;
            self.blocks.insert(index, bytes);
        }
        Ok(&self.blocks[&index])
    }
}

impl<F: FnMut(u64, u64) -> Result<Vec<u8>, PortError>> Read for RangedReader<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let (index, offset) = (self.position / BLOCK_BYTES, self.position % BLOCK_BYTES);
        let block = self.block(index)?;
        let available = block.len().saturating_sub(offset as usize);
        if available == 0 {
            return Ok(0);
        }
        let n = available.min(buf.len());
        buf[..n].copy_from_slice(&block[offset as usize..offset as usize + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl<F> Seek for RangedReader<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        self.position = target.ok_or_else(|| io::Error::other("seek before the start"))?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_blocks_fetch_each_block_once() {
        let data: Vec<u8> = (0..(BLOCK_BYTES * 2 + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut reader = RangedReader::new(data.len() as u64, |s, e| {
            Ok(data[s as usize..e as usize].to_vec())
        });
        let mut buf = vec![0u8; 1000];
        reader.seek(SeekFrom::Start(BLOCK_BYTES - 500)).unwrap();
        reader.read_exact(&mut buf).unwrap();
        assert_eq!(
            buf,
            data[(BLOCK_BYTES - 500) as usize..(BLOCK_BYTES + 500) as usize]
        );
        reader.seek(SeekFrom::End(-50)).unwrap();
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, data[data.len() - 50..]);
        reader.seek(SeekFrom::Start(10)).unwrap();
        reader.read_exact(&mut buf[..10]).unwrap();
        assert_eq!(reader.requests, 3, "three blocks, each fetched once");
    }
}
