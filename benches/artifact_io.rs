//! Artifact I/O through the local artifact store (and, when a server is named, an S3 bucket),
//! beside `cp` of the same file.
//!
//! ```text
//! cargo bench --bench artifact_io            # 1 GiB
//! cargo bench --bench artifact_io -- 256M    # or ZENML_BENCH_SIZE=256M
//! ```
//!
//! A file of pseudo-random bytes is created in a temporary folder (`ZENML_BENCH_DIR`, or the
//! system's temporary folder). Then, in each round, every measurement runs in a process of its own
//! (the benchmark runs itself again), so that none inherits another's page cache state in its own
//! memory, its allocator's state or its peak resident set:
//!
//! - `cp` copies the file in the same folder (the baseline), right before each step below, so
//!   that each is compared with a `cp` that met the same state of the machine's memory (a read
//!   with a `cp` of the stored object, read once beforehand, so that both read from the page
//!   cache);
//! - **write**: the file is written as a [`FileArtifact`] through the local store: read, hashed
//!   (xxh3-128), written to a staged file, published under its content key (the previous round's
//!   object is removed first);
//! - **write again**: the same file once more, while the store holds it: hashed ahead, found,
//!   the object there verified, nothing written;
//! - **read**: the artifact is read back into a temporary file (the system's temporary folder:
//!   `TMPDIR`): from the local store, the stored file is copied inside the kernel while another
//!   thread hashes it; from a bucket, it is streamed and hashed on its way.
//!
//! With `ZENML_TEST_S3_ENDPOINT` and `ZENML_TEST_S3_BUCKET` set (an S3-compatible server on
//! 127.0.0.1, as `.ci/run` starts), the artifact is also written to and read from that bucket.
//!
//! Dirty pages are flushed (`sync`) before each timed step so that none pays for another's
//! writeback. Memory is the growth of the peak resident set (`VmHWM`) of the measuring process
//! over its resident set before the step; the kernel's page cache is not part of it. The load
//! average is printed before and after. Figures only: nothing is asserted.

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use zenml::artifact::io::{ContentStore, content_key};
use zenml::artifact::{ArtifactKind, FileArtifact};
use zenml::backends::object::ObjectArtifactStore;
use zenml::hash::Hash128;
use zenml::store::ArtifactStore;

const MB: f64 = 1e6;
const MIB: u64 = 1 << 20;

/// The argument that makes the benchmark a measuring child: `--measure WHAT SOURCE STORE HASH SIZE`.
const MEASURE: &str = "--measure";

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == MEASURE) {
        return measure(&args[at + 1..]);
    }
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
    println!("load average before: {}", load_average());
    write_pseudo_random(&source, size)?;
    let hash = hash_file(&source)?;

    let rounds = std::env::var("ZENML_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(3)
        .max(1);
    let local = dir.path().join("artifacts");
    let s3 = match (
        std::env::var("ZENML_TEST_S3_ENDPOINT"),
        std::env::var("ZENML_TEST_S3_BUCKET"),
    ) {
        (Ok(_), Ok(bucket)) => Some(format!("s3://{bucket}/bench-{}", std::process::id())),
        _ => None,
    };
    let stores: Vec<(&str, String)> = std::iter::once(("local", local.display().to_string()))
        .chain(s3.iter().map(|url| ("s3", url.clone())))
        .collect();
    // Each step is paired with a `cp` run just before it, so that both meet the same state of
    // the machine's memory (writing a GiB of new pages costs more when the page cache must first
    // give memory back, which the step before may have caused).
    let mut rows: Vec<Row> = Vec::new();
    for (name, _) in &stores {
        for what in ["write", "write again", "read"] {
            rows.push(Row {
                name: format!("{name} {what}"),
                times: Vec::new(),
                cp: Vec::new(),
                growth: Some(0),
            });
        }
    }
    for _ in 0..rounds {
        for (i, (_, store)) in stores.iter().enumerate() {
            for (j, what) in ["write", "write-again", "read"].into_iter().enumerate() {
                let row = &mut rows[3 * i + j];
                // A read is compared with copying the stored object itself, both from the page
                // cache: a file written moments ago may have been evicted, under memory pressure
                // from other work on the machine, and would then be read from the disk.
                let object = local.join(content_key(hash));
                let baseline = if what == "read" && !store.starts_with("s3://") {
                    std::io::copy(&mut File::open(&object)?, &mut std::io::sink())?;
                    object
                } else {
                    source.clone()
                };
                row.cp
                    .push(time_cp(&baseline, &dir.path().join("copy.bin"))?);
                sync();
                let (took, growth) = child(what, &source, store, hash, size)?;
                row.times.push(took);
                row.growth = row.growth.zip(growth).map(|(a, b)| a.max(b));
            }
        }
    }
    for (_, store) in &stores {
        child("remove", &source, store, hash, size)?;
    }
    println!("load average after:  {}", load_average());

    println!(
        "{rounds} round(s), one process per measurement, each step right after a `cp` of its own; \
         best and median of each; \"vs cp\" compares throughputs with the paired `cp` runs' (best \
         with best, median with median)"
    );
    println!();
    println!(
        "{:<22} {:>9} {:>9} {:>8} {:>9} {:>8} {:>8} {:>16}",
        "", "best s", "median s", "MB/s", "cp best s", "vs cp", "median", "peak RSS growth"
    );
    for row in &mut rows {
        let (best, median) = best_and_median(&mut row.times);
        let (cp_best, cp_median) = best_and_median(&mut row.cp);
        println!(
            "{:<22} {:>9.3} {:>9.3} {:>8.0} {:>9.3} {:>7.0}% {:>7.0}% {:>16}",
            row.name,
            best.as_secs_f64(),
            median.as_secs_f64(),
            throughput(size, best),
            cp_best.as_secs_f64(),
            100.0 * cp_best.as_secs_f64() / best.as_secs_f64(),
            100.0 * cp_median.as_secs_f64() / median.as_secs_f64(),
            row.growth.map_or_else(|| "n/a".to_owned(), human),
        );
    }
    Ok(())
}

/// One measured step: its times, those of the `cp` runs paired with it, its peak RSS growth.
struct Row {
    name: String,
    times: Vec<Duration>,
    cp: Vec<Duration>,
    growth: Option<u64>,
}

/// Times `cp source copy` (after a `sync`), then removes the copy.
fn time_cp(source: &Path, copy: &Path) -> Result<Duration, Box<dyn Error>> {
    sync();
    let started = Instant::now();
    let status = Command::new("cp").arg(source).arg(copy).status()?;
    let took = started.elapsed();
    if !status.success() {
        return Err(format!("cp failed: {status}").into());
    }
    std::fs::remove_file(copy)?;
    Ok(took)
}

/// Runs one measurement in a process of its own; returns its time and peak RSS growth.
fn child(
    what: &str,
    source: &Path,
    store: &str,
    hash: Hash128,
    size: u64,
) -> Result<(Duration, Option<u64>), Box<dyn Error>> {
    let out = Command::new(std::env::current_exe()?)
        .args([MEASURE, what])
        .arg(source)
        .arg(store)
        .arg(hash.to_hex())
        .arg(size.to_string())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "measuring `{what}` failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let mut fields = text.split_whitespace();
    let secs: f64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0.0);
    let growth = fields.next().and_then(|f| f.parse().ok());
    Ok((Duration::from_secs_f64(secs), growth))
}

/// The measuring child: prints the seconds the step took and the peak RSS growth in bytes.
fn measure(args: &[String]) -> Result<(), Box<dyn Error>> {
    let [what, source, store, hash, size] = args else {
        return Err(format!("usage: {MEASURE} WHAT SOURCE STORE HASH SIZE").into());
    };
    let hash: Hash128 = hash.parse()?;
    let size: u64 = size.parse()?;
    let store = if store.starts_with("s3://") {
        let endpoint = std::env::var("ZENML_TEST_S3_ENDPOINT")?;
        ObjectArtifactStore::open_bucket(
            store,
            &[
                ("aws_endpoint", endpoint.as_str()),
                ("aws_allow_http", "true"),
                ("aws_access_key_id", "zenml-bench"),
                ("aws_secret_access_key", "zenml-bench-secret"),
                ("aws_region", "us-east-1"),
            ],
        )?
    } else {
        ObjectArtifactStore::local(store)?
    };
    let kind = ArtifactKind::of::<FileArtifact>();
    let key = content_key(hash);
    if what == "write" || what == "remove" {
        store.delete(&key)?;
        if what == "remove" {
            return Ok(());
        }
    }
    let memory = Memory::start();
    let started = Instant::now();
    // What was read back is removed after the clock stops, as `cp`'s copy is.
    let mut read_back = None;
    match what.as_str() {
        "write" | "write-again" => {
            let artifact = ContentStore::new(&store)
                .write(&kind, &FileArtifact::new(source))?
                .artifact;
            if artifact.hash != hash {
                return Err("the artifact's hash is not the file's".into());
            }
        }
        "read" => {
            let record = zenml::store::NewArtifact {
                uri: store.uri(&key),
                hash,
                size,
                type_name: kind.type_name().into_owned(),
                base_type: None,
                materializer: kind.materializer_tag(),
                etag: None,
            }
            .recorded(1, 0);
            let back = ContentStore::new(&store).read(&kind, &record)?;
            let read = back
                .downcast_ref::<FileArtifact>()
                .map(FileArtifact::size)
                .transpose()?;
            if read != Some(size) {
                return Err(format!("read back {read:?} bytes, not {size}").into());
            }
            read_back = Some(back);
        }
        other => return Err(format!("unknown measurement `{other}`").into()),
    }
    let took = started.elapsed();
    println!(
        "{} {}",
        took.as_secs_f64(),
        memory
            .growth()
            .map_or_else(|| "-".to_owned(), |g| g.to_string())
    );
    drop(read_back);
    Ok(())
}

/// The xxh3-128 of a file, read a MiB at a time.
fn hash_file(path: &Path) -> std::io::Result<Hash128> {
    let mut hashing = zenml::hash::HashingWriter::new(std::io::sink());
    std::io::copy(&mut File::open(path)?, &mut hashing)?;
    Ok(hashing.digest().0)
}

/// The machine's load averages (1, 5 and 15 minutes).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
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
