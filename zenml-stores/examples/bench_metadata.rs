//! Timings of the SQLite metadata store alone, on a store holding many executions.
//!
//! ```text
//! cargo run --release -p zenml-stores --example bench_metadata [-- EXECUTIONS [FILE]]
//! ```
//!
//! Fills a store (a temporary file, or FILE) with EXECUTIONS executions (100,000 by default):
//! runs of a five-step pipeline whose executions each have six parameters, a cache key, inputs
//! and one output, written through the `MetadataStore` trait as the runner writes them, but
//! grouped into big transactions by the store's hidden `bulk` helper (one transaction per call
//! would make the fill take minutes and measures nothing the figures below do not). Then it times, per operation: opening the store, cache lookups
//! that hit and that miss, recording a cached execution, a whole cached step (register the step
//! type, look up, record) and a whole cached five-step pipeline run. It prints figures and
//! asserts nothing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use zenml_core::artifact::BaseType;
use zenml_core::hash::Hash128;
use zenml_core::param::{ParamType, Params, ScalarType, Value};
use zenml_core::step::StepKind;
use zenml_core::store::{
    Id, MetadataError, MetadataQuery, MetadataStore, NewArtifact, NewExecution, RunStatus,
    StepTypeSpec,
};
use zenml_stores::sqlite::SqliteMetadataStore;

const STEPS: [(&str, StepKind); 5] = [
    ("bench::Datasource", StepKind::Datasource),
    ("bench::Split", StepKind::Split),
    ("bench::Scaler", StepKind::Preprocesser),
    ("bench::Trainer", StepKind::Trainer),
    ("bench::Evaluator", StepKind::Evaluator),
];

fn spec(source: &str, kind: StepKind) -> StepTypeSpec {
    let p = |s| ParamType::scalar(s);
    StepTypeSpec {
        source: source.to_owned(),
        version: 1,
        kind,
        doc: format!("{source} of the benchmark."),
        params: vec![
            ("batch_size".to_owned(), p(ScalarType::I64)),
            ("epochs".to_owned(), p(ScalarType::I64)),
            ("lr".to_owned(), p(ScalarType::F64)),
            ("dropout".to_owned(), p(ScalarType::F64)),
            ("loss".to_owned(), p(ScalarType::String)),
            ("optimizer".to_owned(), p(ScalarType::String)),
        ],
    }
}

fn params(i: u64) -> Params {
    Params::new()
        .with("batch_size", Value::Int(8))
        .with("epochs", Value::Int((i % 50) as i64))
        .with("lr", Value::Float(0.001 * (i % 7 + 1) as f64))
        .with("dropout", Value::Float(0.2))
        .with("loss", Value::Str("mse".into()))
        .with("optimizer", Value::Str("adam".into()))
}

/// The cache key of step `step` of run `run` of the fill.
fn key(run: u64, step: usize) -> Hash128 {
    Hash128::of(format!("run {run} step {step}").as_bytes())
}

fn output(seed: &str) -> NewArtifact {
    let hash = Hash128::of(seed.as_bytes());
    NewArtifact {
        uri: format!("file:///bench/artifacts/{hash}"),
        hash,
        size: 4096,
        type_name: "zenml.Table".to_owned(),
        base_type: Some(BaseType::Dataset),
        materializer: "zenml.arrow_ipc@1".to_owned(),
        etag: Some(format!("\"{}\"", &hash.to_hex()[..8])),
    }
}

struct Fill {
    pipeline: Id,
    types: Vec<Id>,
    runs: u64,
}

fn fill_start(store: &dyn MetadataQuery, executions: u64) -> Result<Fill, MetadataError> {
    let pipeline = store
        .register_pipeline("bench", "version: 1\nname: bench\n")?
        .id;
    let types = STEPS
        .iter()
        .map(|(s, k)| store.register_step_type(&spec(s, *k)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fill {
        pipeline,
        types,
        runs: executions.div_ceil(STEPS.len() as u64),
    })
}

/// Runs `first..first + n` of the fill: five executions each, every one computed.
fn fill_runs(store: &dyn MetadataQuery, f: &Fill, first: u64, n: u64) -> Result<(), MetadataError> {
    for r in first..first + n {
        let run = store.begin_run(f.pipeline, "version: 1\nname: bench\n", "bench")?;
        let mut previous: Option<Id> = None;
        for (s, ty) in f.types.iter().enumerate() {
            let e = store.begin_execution(&NewExecution {
                run_id: run.id,
                step_type_id: *ty,
                step_name: format!("step{s}"),
                params: params(r),
                cache_key: Some(key(r, s)),
                code_fingerprint: Hash128::of(STEPS[s].0.as_bytes()),
                inputs: previous
                    .map(|a| vec![("data".to_owned(), a)])
                    .unwrap_or_default(),
            })?;
            let out = store.complete_execution(
                e,
                &[("data".to_owned(), output(&format!("{r}/{s}")))],
                &[("loss".to_owned(), 0.5)],
                12,
            )?;
            previous = out.first().map(|a| a.id);
        }
        store.finish_run(run.id, RunStatus::Completed)?;
    }
    Ok(())
}

/// A tiny deterministic generator, to spread lookups over the store.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

struct Timings(Vec<Duration>);

impl Timings {
    fn report(mut self, what: &str) {
        self.0.sort();
        let n = self.0.len();
        let total: Duration = self.0.iter().sum();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{what:<48} n={n:<5} mean {:>8.4} ms  median {:>8.4} ms  p99 {:>8.4} ms",
            ms(total) / n as f64,
            ms(self.0[n / 2]),
            ms(self.0[(n * 99 / 100).min(n - 1)]),
        );
    }
}

fn time<T>(
    n: usize,
    mut f: impl FnMut(usize) -> Result<T, MetadataError>,
) -> Result<Timings, MetadataError> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i)?;
        out.push(t.elapsed());
    }
    Ok(Timings(out))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let executions: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let path = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("metadata.db"));

    println!(
        "metadata store benchmark: {executions} executions in {}",
        path.display()
    );
    let store = SqliteMetadataStore::open(&path)?;
    let started = Instant::now();
    // The fill goes through the trait, as the runner writes, but inside one transaction per
    // 10,000 executions (`bulk`, a hidden helper of the SQLite store) instead of two per
    // execution: the per-call figures below are what matters, and this keeps the fill short.
    let f = store.bulk(|s| fill_start(s, executions))?;
    let chunk = 2000;
    let mut done = 0;
    while done < f.runs {
        let n = chunk.min(f.runs - done);
        store.bulk(|s| fill_runs(s, &f, done, n))?;
        done += n;
        eprintln!(
            "  {} executions written ({:.1} s)",
            done * STEPS.len() as u64,
            started.elapsed().as_secs_f64()
        );
    }
    let fill_time = started.elapsed();
    let written = f.runs * STEPS.len() as u64;
    println!(
        "fill: {written} executions ({} runs) through the trait, in bulk transactions, in {:.1} s \
         ({:.3} ms per execution, begin + complete)",
        f.runs,
        fill_time.as_secs_f64(),
        fill_time.as_secs_f64() * 1e3 / written as f64
    );
    drop(store);
    println!(
        "file size: {:.1} MB",
        std::fs::metadata(&path)?.len() as f64 / 1e6
    );

    let opens = time(50, |_| SqliteMetadataStore::open(&path))?;
    opens.report("open an existing store");

    let store = SqliteMetadataStore::open(&path)?;
    let mut rng = Lcg(7);
    let hits = time(2000, |_| {
        let k = key(rng.next(f.runs), rng.next(STEPS.len() as u64) as usize);
        match store.find_cached(k)? {
            Some(hit) => Ok(hit),
            None => Err(MetadataError::NotFound {
                what: "cache entry",
                key: format!("no hit for {k}"),
            }),
        }
    })?;
    hits.report("find_cached, hit");
    let misses = time(2000, |i| {
        let k = Hash128::of(format!("missing {i}").as_bytes());
        store.find_cached(k)
    })?;
    misses.report("find_cached, miss");

    let run = store.begin_run(f.pipeline, "version: 1\nname: bench\n", "bench")?;
    let new = |r: u64, s: usize| NewExecution {
        run_id: run.id,
        step_type_id: f.types[s],
        step_name: format!("step{s}"),
        params: params(r),
        cache_key: Some(key(r, s)),
        code_fingerprint: Hash128::of(STEPS[s].0.as_bytes()),
        inputs: Vec::new(),
    };
    let mut picks = Vec::new();
    for _ in 0..1000 {
        let (r, s) = (rng.next(f.runs), rng.next(STEPS.len() as u64) as usize);
        if let Some(hit) = store.find_cached(key(r, s))? {
            picks.push((r, s, hit));
        }
    }
    let records = time(picks.len(), |i| {
        let (r, s, hit) = &picks[i];
        store.record_cached_execution(&new(*r, *s), hit)
    })?;
    records.report("record_cached_execution");

    let specs: Vec<StepTypeSpec> = STEPS.iter().map(|(s, k)| spec(s, *k)).collect();
    let steps = time(1000, |_| {
        let (r, s) = (rng.next(f.runs), rng.next(STEPS.len() as u64) as usize);
        let ty = store.register_step_type(&specs[s])?;
        let hit = store
            .find_cached(key(r, s))?
            .ok_or_else(|| MetadataError::NotFound {
                what: "cache entry",
                key: "a stored key".to_owned(),
            })?;
        store.record_cached_execution(
            &NewExecution {
                step_type_id: ty,
                ..new(r, s)
            },
            &hit,
        )
    })?;
    steps.report("cached step: register type + find_cached + record");
    drop(store);

    // A fully cached five-step rerun as a fresh process does it: open, pipeline, run, 5 steps,
    // finish, close (closing the last connection checkpoints the WAL into the database file).
    let mut phases = [Duration::ZERO; 5];
    let reruns = time(20, |i| {
        let mut lap = Instant::now();
        let mut mark = |phase: usize| {
            phases[phase] += lap.elapsed();
            lap = Instant::now();
        };
        let store = SqliteMetadataStore::open(&path)?;
        mark(0);
        let p = store.register_pipeline("bench", "version: 1\nname: bench\n")?;
        let run = store.begin_run(p.id, "version: 1\nname: bench\n", "bench")?;
        mark(1);
        let r = (i as u64 * 7919) % f.runs;
        for (s, spec) in specs.iter().enumerate() {
            let ty = store.register_step_type(spec)?;
            let hit = store
                .find_cached(key(r, s))?
                .ok_or_else(|| MetadataError::NotFound {
                    what: "cache entry",
                    key: "a stored key".to_owned(),
                })?;
            store.record_cached_execution(
                &NewExecution {
                    run_id: run.id,
                    step_type_id: ty,
                    ..new(r, s)
                },
                &hit,
            )?;
        }
        mark(2);
        store.finish_run(run.id, RunStatus::Completed)?;
        mark(3);
        drop(store);
        mark(4);
        Ok(())
    })?;
    reruns.report("cached 5-step pipeline run (open to close)");
    let names = [
        "open",
        "pipeline + run",
        "5 cached steps",
        "finish run",
        "close",
    ];
    let parts: Vec<String> = names
        .iter()
        .zip(phases)
        .map(|(n, d)| format!("{n} {:.2} ms", d.as_secs_f64() * 1e3 / 20.0))
        .collect();
    println!("  of which, on average: {}", parts.join(", "));
    Ok(())
}
