//! Content hashes: xxh3-128, computed while bytes stream.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use xxhash_rust::xxh3::Xxh3;

/// A 128-bit xxh3 hash: of an artifact's bytes, of a cache key's ingredients, of a step's code.
///
/// Displayed and parsed as 32 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash128(pub u128);

impl Hash128 {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Hash128(xxhash_rust::xxh3::xxh3_128(bytes))
    }

    /// The 32-digit lowercase hexadecimal form.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }

    /// The hash as 16 big-endian bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for Hash128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for Hash128 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash128({:032x})", self.0)
    }
}

/// A string that is not 32 hexadecimal digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a 128-bit hash (32 hexadecimal digits)")]
pub struct ParseHashError(pub String);

impl FromStr for Hash128 {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseHashError(s.to_owned()));
        }
        u128::from_str_radix(s, 16)
            .map(Hash128)
            .map_err(|_| ParseHashError(s.to_owned()))
    }
}

impl serde::Serialize for Hash128 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hash128 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental xxh3-128 hasher.
#[derive(Clone, Default)]
pub struct Hasher {
    inner: Xxh3,
    len: u64,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").field("len", &self.len).finish()
    }
}

impl Hasher {
    /// A new hasher.
    pub fn new() -> Self {
        Hasher::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Feeds a length-prefixed byte string (u32 LE length), so that consecutive fields cannot run
    /// into each other.
    pub fn field(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.update(&len.to_le_bytes());
        self.update(bytes);
    }

    /// How many bytes were fed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Was nothing fed yet?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hash of everything fed so far.
    pub fn finish(&self) -> Hash128 {
        Hash128(self.inner.digest128())
    }
}

/// A writer that hashes every byte it passes on.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// The hash and length of what was written so far.
    pub fn digest(&self) -> (Hash128, u64) {
        (self.hasher.finish(), self.hasher.len())
    }

    /// The wrapped writer, with the hash and length of what went through.
    pub fn into_parts(self) -> (W, Hash128, u64) {
        let (h, n) = self.digest();
        (self.inner, h, n)
    }

    /// The wrapped writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.hasher.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what it reads and, at the end of the stream, fails with
/// [`io::ErrorKind::InvalidData`] unless the bytes hash to the expected value and length.
///
/// A reader that is dropped before its end checks nothing; call [`VerifyingReader::finish`] to read
/// the rest and check.
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Hasher,
    expected: Hash128,
    expected_len: Option<u64>,
    verified: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// Wraps `inner`, expecting `hash` (and `len` bytes, when known).
    pub fn new(inner: R, hash: Hash128, len: Option<u64>) -> Self {
        VerifyingReader {
            inner,
            hasher: Hasher::new(),
            expected: hash,
            expected_len: len,
            verified: false,
        }
    }

    fn check(&mut self) -> io::Result<()> {
        let (got, n) = (self.hasher.finish(), self.hasher.len());
        if got != self.expected || self.expected_len.is_some_and(|l| l != n) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                HashMismatch {
                    expected: self.expected,
                    actual: got,
                    expected_len: self.expected_len,
                    actual_len: n,
                },
            ));
        }
        self.verified = true;
        Ok(())
    }

    /// Reads whatever is left and checks the hash.
    pub fn finish(mut self) -> io::Result<()> {
        if self.verified {
            return Ok(());
        }
        io::copy(&mut self, &mut io::sink())?;
        if !self.verified {
            self.check()?;
        }
        Ok(())
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !self.verified {
                self.check()?;
            }
        } else {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Bytes that do not hash to what was recorded for them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("content hash mismatch: expected {expected} ({} bytes), read {actual} ({actual_len} bytes)",
        expected_len.map_or_else(|| "?".to_owned(), |n| n.to_string()))]
pub struct HashMismatch {
    /// The recorded hash.
    pub expected: Hash128,
    /// The hash of what was read.
    pub actual: Hash128,
    /// The recorded length, when known.
    pub expected_len: Option<u64>,
    /// The number of bytes read.
    pub actual_len: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = Hash128::of(b"zenml");
        let s = h.to_string();
        assert_eq!(s.len(), 32);
        assert_eq!(s.parse::<Hash128>(), Ok(h));
        assert!("xyz".parse::<Hash128>().is_err());
    }

    #[test]
    fn writer_hash_equals_one_shot() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (buf, h, n) = w.into_parts();
        assert_eq!(buf, b"hello world");
        assert_eq!(h, Hash128::of(b"hello world"));
        assert_eq!(n, 11);
    }

    #[test]
    fn verifying_reader_detects_changes() {
        let data = b"some artifact bytes".to_vec();
        let h = Hash128::of(&data);
        let mut ok = VerifyingReader::new(&data[..], h, Some(data.len() as u64));
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);

        let mut bad = data.clone();
        bad[3] ^= 1;
        let mut r = VerifyingReader::new(&bad[..], h, None);
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        let r = VerifyingReader::new(&bad[..], h, None);
        assert!(r.finish().is_err());
    }
}
