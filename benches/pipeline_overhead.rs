//! What caching costs: the whole-process time of a fully cached rerun of a 5-step and a 50-step
//! pipeline, and the per-step cost of a cache hit with 100,000 executions already in the store.
//!
//! ```text
//! cargo bench --bench pipeline_overhead                 # 100,000 executions
//! ZENML_BENCH_EXECUTIONS=10000 cargo bench --bench pipeline_overhead
//! cargo bench --bench pipeline_overhead -- --mysql mysql://user:pw@127.0.0.1:3306/db
//! ```
//!
//! It prints figures and asserts nothing. Everything happens in a temporary repository (SQLite
//! metadata store, local artifact folder), removed at the end. With `--mysql URL` the
//! repository's metadata store is a new database on that MySQL / MariaDB server instead, named
//! after the URL's database (`<db>_<process>_<n>`, so the account must be allowed to create
//! databases of that prefix) and dropped at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zenml::backends::mysql::{MysqlMetadataStore, ScratchDatabases};
use zenml::param::Params;
use zenml::prelude::*;
use zenml::repository::RepositoryConfig;
use zenml::store::{
    MetadataConfig, MetadataError, MetadataQuery, NewArtifact, NewExecution, StepTypeSpec,
};

/// The first step of a chain: a number.
#[step]
#[derive(Debug)]
pub struct Seed {
    #[param(default = 1.0)]
    pub value: f64,
}

#[step]
impl Step for Seed {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("y")]
    }
    fn run(&self, _ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        Ok(Outputs::new().with("y", self.value))
    }
}

/// The next link of a chain: its input plus `by`.
#[step]
#[derive(Debug)]
pub struct Increment {
    #[param(default = 1.0)]
    pub by: f64,
}

#[step]
impl Step for Increment {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("x")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("y")]
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let x: &f64 = inputs.get("x")?;
        Ok(Outputs::new().with("y", x + self.by))
    }
}

fn chain(steps: usize) -> Pipeline {
    let mut p = Pipeline::new(format!("chain-{steps}")).add_step("s0", Seed::default(), []);
    for i in 1..steps {
        let input = format!("s{}.y", i - 1);
        p = p.add_step(
            format!("s{i}"),
            Increment::default(),
            [("x", input.as_str())],
        );
    }
    p
}

/// The child mode: open the repository in `dir`, rerun the chain of `steps`, exit.
fn rerun(dir: &Path, steps: usize) -> Result<(), Box<dyn std::error::Error>> {
    let repo = Repository::open(dir)?.with_options(RunOptions::quiet());
    let summary = repo.run(&chain(steps))?;
    if summary.cached().len() != steps {
        return Err(format!(
            "expected {steps} cached steps, {} ran",
            summary.executed().len()
        )
        .into());
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn whole_process(
    dir: &Path,
    steps: usize,
    reps: usize,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        let status = Command::new(&exe)
            .arg("--rerun")
            .arg(dir)
            .arg(steps.to_string())
            .status()?;
        times.push(start.elapsed());
        if !status.success() {
            return Err(format!("the rerun of chain-{steps} failed").into());
        }
    }
    let min = *times.iter().min().unwrap_or(&Duration::ZERO);
    Ok((median(times), min))
}

/// Records `n` executions of a step type of their own, with an output artifact each, directly
/// through the metadata store (as many runs would), in one run; their keys start with `tag`.
fn fill(store: &dyn MetadataQuery, tag: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let ty = store.register_step_type(&StepTypeSpec {
        source: "bench::Filler".into(),
        version: 1,
        kind: zenml::step::StepKind::General,
        doc: String::new(),
        params: vec![("i".into(), <i64 as zenml::param::Param>::TYPE)],
    })?;
    let pipeline = store.register_pipeline("filler", "version: 1\nname: filler\nsteps: {}\n")?;
    let run = store.begin_run(pipeline.id, "", "bench")?;
    let started = Instant::now();
    for i in 0..n {
        let i64 = i64::try_from(i)?;
        let key = Hash128::of(format!("filler-{tag}{i}").as_bytes());
        let id = store.begin_execution(&NewExecution {
            run_id: run.id,
            step_type_id: ty,
            step_name: format!("f{tag}{i}"),
            params: Params::new().with("i", zenml::param::Value::Int(i64)),
            cache_key: Some(key),
            code_fingerprint: Hash128(1),
            inputs: Vec::new(),
        })?;
        store.complete_execution(
            id,
            &[(
                "y".into(),
                NewArtifact {
                    uri: format!("file:///filler/{key}"),
                    hash: key,
                    size: 8,
                    type_name: "f64".into(),
                    base_type: None,
                    materializer: "zenml.msgpack@1".into(),
                    etag: None,
                },
            )],
            &[],
            0,
        )?;
        if (i + 1) % 10_000 == 0 {
            eprintln!(
                "  … {tag}{} executions recorded ({:.1} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    store.finish_run(run.id, zenml::store::RunStatus::Completed)?;
    Ok(())
}

/// Records `n` executions as [`fill`] does, from `writers` threads with a store each (on MySQL,
/// where every transaction waits for the server's log to reach the disk, concurrent commits
/// share those waits).
fn fill_concurrently(
    open: &(dyn Fn() -> Result<Arc<dyn MetadataQuery>, MetadataError> + Sync),
    n: usize,
    writers: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                scope.spawn(move || -> Result<(), String> {
                    let store = open().map_err(|e| e.to_string())?;
                    let share = n / writers + usize::from(w < n % writers);
                    fill(store.as_ref(), &format!("w{w}-"), share).map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| "a filler panicked".to_owned())?)
    })?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rerun") {
        let dir = PathBuf::from(&args[i + 1]);
        let steps: usize = args[i + 2].parse()?;
        return rerun(&dir, steps);
    }
    if args.iter().any(|a| a == "--list") {
        // `cargo bench -- --list` asks for test names; this is not a libtest bench.
        return Ok(());
    }
    let executions: usize = std::env::var("ZENML_BENCH_EXECUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);

    let mysql = match args.iter().position(|a| a == "--mysql") {
        Some(i) => {
            let url = args.get(i + 1).ok_or("--mysql takes a mysql:// URL")?;
            Some(ScratchDatabases::from_url(url)?)
        }
        None => None,
    };

    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let database = mysql.as_ref().map(ScratchDatabases::create);
    let (repo, kind) = match &database {
        Some(db) => {
            // The repository's config names the new database (the password in the temporary
            // config file, readable by its owner only); `init_with` makes the store in it.
            let config = RepositoryConfig {
                metadata: MetadataConfig::Mysql {
                    host: db.host.clone(),
                    port: db.port,
                    user: db.user.clone(),
                    database: db.database.clone(),
                    password: db.password.clone(),
                    password_env: None,
                    tls: db.tls,
                },
                ..RepositoryConfig::default()
            };
            let kind = format!("MySQL metadata store ({}, loopback)", db.describe());
            (Repository::init_with(dir, config)?, kind)
        }
        None => (Repository::init(dir)?, "SQLite metadata store".to_owned()),
    };
    let repo = repo.with_options(RunOptions::quiet());
    println!("pipeline overhead (repository: {kind} + local artifact folder)");
    for steps in [5, 50] {
        let start = Instant::now();
        repo.run(&chain(steps))?;
        println!("  first run of chain-{steps:<2}: {}", ms(start.elapsed()));
    }

    println!("\nfully cached rerun, whole process (spawn to exit), 15 runs each:");
    for steps in [5, 50] {
        let (med, min) = whole_process(dir, steps, 15)?;
        println!(
            "  chain-{steps:<2}  median {:>10}  min {:>10}",
            ms(med),
            ms(min)
        );
    }

    println!("\nfilling the store with {executions} executions …");
    let start = Instant::now();
    match &database {
        Some(db) => {
            let writers = 8;
            fill_concurrently(
                &|| Ok(Arc::new(MysqlMetadataStore::open(db)?) as Arc<dyn MetadataQuery>),
                executions,
                writers,
            )?;
            println!(
                "  done in {:.1} s ({writers} writers)",
                start.elapsed().as_secs_f64()
            );
        }
        None => {
            fill(repo.metadata_store().as_ref(), "", executions)?;
            println!("  done in {:.1} s", start.elapsed().as_secs_f64());
        }
    }

    println!("\nwith {executions} executions in the store:");
    let mut per_step = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        let summary = repo.run(&chain(50))?;
        per_step.push(start.elapsed() / 50);
        if summary.cached().len() != 50 {
            return Err("the 50-step rerun was not fully cached".into());
        }
    }
    println!(
        "  cache hit, per step (in process, 50-step chain, 15 runs): median {}  min {}",
        ms(median(per_step.clone())),
        ms(*per_step.iter().min().unwrap_or(&Duration::ZERO))
    );
    for steps in [5, 50] {
        let (med, min) = whole_process(dir, steps, 15)?;
        println!(
            "  chain-{steps:<2} whole process  median {:>10}  min {:>10}",
            ms(med),
            ms(min)
        );
    }
    Ok(())
}
