//! Artifact I/O through the local artifact store, beside `cp` of the same file.
//!
//! ```text
//! cargo bench --bench artifact_io            # 1 GiB
//! cargo bench --bench artifact_io -- 256M    # or ZENML_BENCH_SIZE=256M
//! ```
//!
//! A file of pseudo-random bytes is created in a temporary folder (`ZENML_BENCH_DIR`, or the
//! system's temporary folder), then:
//!
//! - `cp` copies it in the same folder (the baseline);
//! - **write**: the file is written as a [`FileArtifact`] through the local store: read, hashed
//!   (xxh3-128), streamed in parts into a staged object, published under its content key;
//! - **read**: the artifact is read back: streamed from the store, its hash verified, written to a
//!   temporary file (the system's temporary folder: `TMPDIR`).
//!
//! `ZENML_BENCH_PART_SIZE` sets the store's part size (the default is the store's default).
//!
//! Dirty pages are flushed (`sync`) before each timed step so that none pays for another's
//! writeback. Memory is the growth of the peak resident set (`VmHWM`, reset before each step
//! where the kernel allows) over the resident set before the step; the kernel's page cache is
//! not part of it. Figures only: nothing is asserted.

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use zenml::artifact::io::{ContentStore, content_key};
use zenml::artifact::{ArtifactKind, FileArtifact};
use zenml::backends::object::ObjectArtifactStore;
use zenml::store::{ArtifactRecord, ArtifactStore};

const MB: f64 = 1e6;
const MIB: u64 = 1 << 20;

fn main() -> Result<(), Box<dyn Error>> {
    let size = requested_size()?;
    let parent = std::env::var_os("ZENML_BENCH_DIR")
        .map(Into::into)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&parent)?;
    let source = dir.path().join("source.bin");
    println!(
        "artifact_io: {} of pseudo-random bytes in {}",
        human(size),
        dir.path().display()
    );
    write_pseudo_random(&source, size)?;

    let rounds = std::env::var("ZENML_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(3)
        .max(1);
    let mut store = ObjectArtifactStore::local(dir.path().join("artifacts"))?;
    if let Some(part) = std::env::var("ZENML_BENCH_PART_SIZE")
        .ok()
        .as_deref()
        .and_then(parse_size)
    {
        store = store.with_part_size(part as usize);
    }
    let kind = ArtifactKind::of::<FileArtifact>();
    let value = FileArtifact::new(&source);
    let (mut cp, mut write, mut read) = (Vec::new(), Vec::new(), Vec::new());
    let (mut write_growth, mut read_growth) = (Some(0), Some(0));
    let mut last: Option<ArtifactRecord> = None;
    let mut back_size = None;
    for _ in 0..rounds {
        // Baseline.
        sync();
        let copy = dir.path().join("copy.bin");
        let started = Instant::now();
        let status = Command::new("cp").arg(&source).arg(&copy).status()?;
        cp.push(started.elapsed());
        if !status.success() {
            return Err(format!("cp failed: {status}").into());
        }
        std::fs::remove_file(&copy)?;

        // Write: hash and publish (the previous round's object is removed first).
        if let Some(record) = &last {
            store.delete(&content_key(record.hash))?;
        }
        sync();
        let memory = Memory::start();
        let started = Instant::now();
        let artifact = ContentStore::new(&store).write(&kind, &value)?.artifact;
        write.push(started.elapsed());
        write_growth = max_growth(write_growth, memory.growth());
        let record = artifact.recorded(1, 0);

        // Read: verify and materialize into a temporary file.
        sync();
        let memory = Memory::start();
        let started = Instant::now();
        let back = ContentStore::new(&store).read(&kind, &record)?;
        read.push(started.elapsed());
        read_growth = max_growth(read_growth, memory.growth());
        back_size = back
            .downcast_ref::<FileArtifact>()
            .map(FileArtifact::size)
            .transpose()?;
        drop(back);
        last = Some(record);
    }
    let Some(record) = last else {
        return Ok(());
    };

    println!("artifact {} ({} bytes)", record.uri, record.size);
    if back_size != Some(size) {
        println!("warning: the file read back has {back_size:?} bytes, not {size}");
    }
    let (cp_best, cp_median) = best_and_median(&mut cp);
    println!(
        "{rounds} round(s); best and median of each; \"vs cp\" compares throughputs (best with best, \
         median with median)"
    );
    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>8} {:>8} {:>8} {:>16}",
        "", "best s", "median s", "MB/s", "vs cp", "median", "peak RSS growth"
    );
    let row = |name: &str, times: &mut Vec<Duration>, growth: Option<u64>| {
        let (best, median) = best_and_median(times);
        println!(
            "{:<34} {:>9.3} {:>9.3} {:>8.0} {:>7.0}% {:>7.0}% {:>16}",
            name,
            best.as_secs_f64(),
            median.as_secs_f64(),
            throughput(size, best),
            100.0 * cp_best.as_secs_f64() / best.as_secs_f64(),
            100.0 * cp_median.as_secs_f64() / median.as_secs_f64(),
            growth.map_or_else(|| "n/a".to_owned(), human),
        )
    };
    row("cp", &mut cp, None);
    row("write (hash + stage + publish)", &mut write, write_growth);
    row("read (verify + materialize file)", &mut read, read_growth);
    if !Memory::resettable() {
        println!(
            "note: the peak resident set could not be reset; growth is measured against the \
             process's peak so far"
        );
    }
    Ok(())
}

/// The size from the first argument that is not a flag, or `ZENML_BENCH_SIZE`, or 1 GiB.
fn requested_size() -> Result<u64, Box<dyn Error>> {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    match arg.or_else(|| std::env::var("ZENML_BENCH_SIZE").ok()) {
        Some(text) => parse_size(&text).ok_or_else(|| {
            format!("`{text}` is not a size (like 1G, 256M, 64K or 1000000)").into()
        }),
        None => Ok(1 << 30),
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    let trimmed = upper.trim_end_matches("IB").trim_end_matches('B');
    let (digits, unit) = match trimmed.char_indices().last() {
        Some((i, 'K')) => (&trimmed[..i], 1 << 10),
        Some((i, 'M')) => (&trimmed[..i], 1 << 20),
        Some((i, 'G')) => (&trimmed[..i], 1 << 30),
        _ => (trimmed, 1),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(unit)
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

fn best_and_median(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    (
        times.first().copied().unwrap_or_default(),
        times.get(times.len() / 2).copied().unwrap_or_default(),
    )
}

fn max_growth(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(a?.max(b?))
}

fn throughput(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / MB / took.as_secs_f64().max(1e-9)
}

/// Writes `size` pseudo-random bytes (xorshift64*) to `path`, a MiB at a time.
fn write_pseudo_random(path: &Path, size: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(MIB as usize, File::create(path)?);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()
}

/// Flushes dirty pages to disk, so that a timed step does not pay for an earlier one's.
fn sync() {
    let _ = Command::new("sync").status();
}

/// The resident set before a step, and the peak since.
struct Memory {
    before: Option<u64>,
}

impl Memory {
    fn start() -> Self {
        Self::reset_peak();
        Memory {
            before: status_kib("VmRSS:"),
        }
    }

    /// Resets `VmHWM` to the current resident set (Linux ≥ 4.0).
    fn reset_peak() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }

    fn resettable() -> bool {
        Self::reset_peak()
    }

    fn growth(&self) -> Option<u64> {
        let peak = status_kib("VmHWM:")?;
        Some(peak.saturating_sub(self.before?) * 1024)
    }
}

/// A `kB` figure of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
