//! Files as artifacts: values whose bytes stay on local disk and stream into and out of the store.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tempfile::TempPath;

use super::io::{PageAligned, copy_stream};
use super::{Artifact, MaterializeError, Materializer};

/// A file on local disk, as an artifact whose bytes are never held in memory.
///
/// Use it for outputs too large to build in memory (a model checkpoint, a dataset shard, an
/// archive): the step writes a file and returns it; the runtime streams the file into the
/// artifact store while hashing it. A step that receives a `FileArtifact` as input gets a
/// temporary file holding the stored bytes (in [`std::env::temp_dir`], so `TMPDIR` chooses the
/// folder), which is removed when the value is dropped; [`FileArtifact::persist`] keeps it.
///
/// The bytes are stored verbatim: the artifact's hash is the xxh3-128 of the file.
#[derive(Debug)]
pub struct FileArtifact {
    path: PathBuf,
    /// Set when the file is ours to remove.
    temp: Option<TempPath>,
}

impl FileArtifact {
    /// The file at `path`. It is the caller's: dropping the value leaves it in place.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileArtifact {
            path: path.into(),
            temp: None,
        }
    }

    /// A new, empty temporary file (removed when the value is dropped) and a handle to write it.
    pub fn create_temp() -> io::Result<(Self, File)> {
        let (file, temp) = tempfile::Builder::new()
            .prefix("zenml-artifact-")
            .tempfile()?
            .into_parts();
        Ok((
            FileArtifact {
                path: temp.to_path_buf(),
                temp: Some(temp),
            },
            file,
        ))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file for reading.
    pub fn open(&self) -> io::Result<File> {
        File::open(&self.path)
    }

    /// The file's size in bytes.
    pub fn size(&self) -> io::Result<u64> {
        Ok(std::fs::metadata(&self.path)?.len())
    }

    /// Is the file a temporary one, removed when the value is dropped?
    pub fn is_temporary(&self) -> bool {
        self.temp.is_some()
    }

    /// Keeps the bytes at `to`: a temporary file is moved there (copied when `to` is on another
    /// filesystem), a file of the caller's is copied. Returns the file at `to`, which is then the
    /// caller's.
    pub fn persist(self, to: impl AsRef<Path>) -> io::Result<FileArtifact> {
        let to = to.as_ref();
        match self.temp {
            Some(temp) => {
                if let Err(e) = temp.persist(to) {
                    // Most likely another filesystem: copy, and let the temporary file go.
                    std::fs::copy(&e.path, to)?;
                }
            }
            None => {
                std::fs::copy(&self.path, to)?;
            }
        }
        Ok(FileArtifact::new(to))
    }
}

/// The materializer of [`FileArtifact`]: the file's bytes, verbatim.
#[derive(Debug)]
pub struct RawFile;

fn with_path(path: &Path, what: &str, e: io::Error) -> MaterializeError {
    MaterializeError::Io(io::Error::new(
        e.kind(),
        format!("cannot {what} `{}`: {e}", path.display()),
    ))
}

impl Materializer for RawFile {
    type Value = FileArtifact;
    const ID: &'static str = "zenml.file";
    const VERSION: u32 = 1;

    fn write(value: &FileArtifact, w: &mut dyn Write) -> Result<(), MaterializeError> {
        let mut file = value
            .open()
            .map_err(|e| with_path(&value.path, "open", e))?;
        copy_stream(&mut file, w)?;
        Ok(())
    }

    fn read(r: &mut dyn Read) -> Result<FileArtifact, MaterializeError> {
        let (value, mut file) = FileArtifact::create_temp()
            .map_err(|e| with_path(&std::env::temp_dir(), "create a file in", e))?;
        copy_to_file(r, &mut file, value.path())?;
        Ok(value)
    }

    fn source_file(value: &FileArtifact) -> Option<&Path> {
        Some(value.path())
    }

    const READS_FILES: bool = true;

    /// Copies the stored file into a temporary one inside the kernel (`copy_file_range` where the
    /// system has it, as `cp` does), so that no byte passes through this process.
    fn read_file(file: &mut File) -> Result<FileArtifact, MaterializeError> {
        let (value, mut copy) = FileArtifact::create_temp()
            .map_err(|e| with_path(&std::env::temp_dir(), "create a file in", e))?;
        io::copy(file, &mut copy).map_err(|e| with_path(value.path(), "write", e))?;
        Ok(value)
    }
}

/// The size of one chunk of [`copy_to_file`].
const CHUNK: usize = 256 << 10;
/// How many chunks [`copy_to_file`] has in memory at most.
const CHUNKS: usize = 8;

/// Copies `r` into `file`, writing each chunk on a second thread while the next one is read (and
/// hashed, when `r` verifies), so that reading and writing overlap. At most [`CHUNKS`] chunks of
/// [`CHUNK`] bytes are in memory.
fn copy_to_file(r: &mut dyn Read, file: &mut File, path: &Path) -> io::Result<u64> {
    let (full_tx, full_rx) = mpsc::sync_channel::<(PageAligned, usize)>(CHUNKS);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<PageAligned>(CHUNKS);
    for _ in 0..CHUNKS {
        let _ = empty_tx.send(PageAligned::new(CHUNK));
    }
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<()> {
            let failed = |e: io::Error| {
                io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display()))
            };
            for (chunk, n) in full_rx {
                file.write_all(&chunk.as_slice()[..n]).map_err(failed)?;
                // The reader may be gone already; then the chunk is simply freed.
                let _ = empty_tx.send(chunk);
            }
            file.flush().map_err(failed)
        });
        let mut total = 0u64;
        let read = (|| -> io::Result<()> {
            // Ends when the writer is gone (it failed: its error is reported below).
            while let Ok(mut chunk) = empty_rx.recv() {
                let n = fill(r, chunk.as_mut_slice())?;
                if n == 0 {
                    return Ok(());
                }
                total += n as u64;
                if full_tx.send((chunk, n)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        })();
        drop(full_tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the file writer thread panicked")));
        read.and(written).map(|()| total)
    })
}

/// Reads into `buf` until it is full or the stream ends; returns how many bytes were read.
pub(crate) fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl Artifact for FileArtifact {
    type Materializer = RawFile;

    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("zenml.File")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_are_removed_on_drop_and_kept_by_persist() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let (value, mut file) = FileArtifact::create_temp()?;
        file.write_all(b"checkpoint")?;
        drop(file);
        let path = value.path().to_path_buf();
        assert!(value.is_temporary());
        assert_eq!(value.size()?, 10);
        drop(value);
        assert!(!path.exists(), "a dropped temporary file must be removed");

        let (value, mut file) = FileArtifact::create_temp()?;
        file.write_all(b"kept")?;
        drop(file);
        let kept = value.persist(dir.path().join("kept.bin"))?;
        assert!(!kept.is_temporary());
        assert_eq!(std::fs::read(kept.path())?, b"kept");
        let again = kept.path().to_path_buf();
        drop(kept);
        assert!(again.exists(), "a file of the caller's is never removed");
        Ok(())
    }

    #[test]
    fn materializer_streams_the_bytes_verbatim() -> Result<(), MaterializeError> {
        let dir = tempfile::tempdir()?;
        let src = dir.path().join("src.bin");
        let data: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&src, &data)?;
        let mut bytes = Vec::new();
        RawFile::write(&FileArtifact::new(&src), &mut bytes)?;
        assert_eq!(bytes, data);
        let back = RawFile::read(&mut &bytes[..])?;
        assert!(back.is_temporary());
        assert_eq!(std::fs::read(back.path())?, data);

        let missing = RawFile::write(&FileArtifact::new(dir.path().join("nope")), &mut Vec::new());
        let message = missing.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("nope"), "{message}");
        Ok(())
    }
}
