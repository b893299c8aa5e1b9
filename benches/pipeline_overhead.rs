//! What caching costs a user: the whole-process time of a fully cached rerun of a 5-step and a
//! 50-step pipeline, beside the floor, and the per-step cost of a cache hit with many executions
//! already in the store.
//!
//! ```text
//! cargo build --release -p zenml-bench-floor            # the floor binary, first
//! cargo bench --bench pipeline_overhead                 # 100,000 executions
//! ZENML_BENCH_EXECUTIONS=10000 ZENML_BENCH_ROUNDS=31 cargo bench --bench pipeline_overhead
//! cargo bench --bench pipeline_overhead -- --compare before=PATH   # PATH: another build of this benchmark
//! cargo bench --bench pipeline_overhead -- --quick --max-ratio 3  # the regression guard of CI
//! cargo bench --bench pipeline_overhead -- --mysql mysql://user:pw@127.0.0.1:3306/db
//! ```
//!
//! Every figure is a process timed from spawn to exit. A rerun starts from a closed store that
//! no other process holds open (the parent closes its repository before timing), as a user's
//! command does; a second table, labelled as such, times the same while another process holds
//! each database open. The floor is `zenml-bench-floor` (open SQLite, one indexed lookup and one
//! recorded execution per step, with rusqlite alone), timed in the same run; the commands of a
//! table are interleaved round by round, and each table prints the median, quartiles, minimum
//! and maximum in milliseconds, each median over the floor's, and the load average. Each build
//! compared has a repository of its own.
//!
//! It prints figures and asserts nothing, except with `--max-ratio X`: then it fails when a
//! cached rerun's median and its fastest run are both more than X times the floor's. Everything
//! happens in a temporary folder, removed at the end. With `--mysql URL` the repository's
//! metadata store is a new database on that MySQL / MariaDB server instead, named after the
//! URL's database (`<db>_<process>_<n>`, so the account must be allowed to create databases of
//! that prefix) and dropped at the end.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zenml::backends::mysql::{MysqlMetadataStore, MysqlOptions, ScratchDatabases};
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

/// One command the benchmark times from spawn to exit.
struct Timed {
    label: String,
    program: PathBuf,
    args: Vec<OsString>,
}

impl Timed {
    fn new(label: impl Into<String>, program: &Path, args: &[&OsStr]) -> Timed {
        Timed {
            label: label.into(),
            program: program.to_owned(),
            args: args.iter().map(|a| a.to_os_string()).collect(),
        }
    }

    fn time(&self) -> Result<Duration, Box<dyn std::error::Error>> {
        let start = Instant::now();
        let status = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .status()?;
        let elapsed = start.elapsed();
        if !status.success() {
            return Err(format!("`{}` failed ({status})", self.label).into());
        }
        Ok(elapsed)
    }
}

/// Times every command once per round, `rounds` times, the commands interleaved round by round
/// (each round starts one command further on, so no command always follows the same one).
fn interleaved(
    commands: &[Timed],
    rounds: usize,
) -> Result<Vec<Vec<Duration>>, Box<dyn std::error::Error>> {
    let mut times = vec![Vec::with_capacity(rounds); commands.len()];
    for round in 0..rounds {
        for k in 0..commands.len() {
            let i = (round + k) % commands.len();
            times[i].push(commands[i].time()?);
        }
    }
    Ok(times)
}

/// Median, quartiles, minimum and maximum of some timings.
struct Spread {
    median: Duration,
    q1: Duration,
    q3: Duration,
    min: Duration,
    max: Duration,
}

impl Spread {
    fn of(times: &[Duration]) -> Spread {
        let mut v = times.to_vec();
        v.sort_unstable();
        let at = |q: usize| v.get((v.len().saturating_sub(1)) * q / 4).copied();
        let zero = Duration::ZERO;
        Spread {
            median: at(2).unwrap_or(zero),
            q1: at(1).unwrap_or(zero),
            q3: at(3).unwrap_or(zero),
            min: v.first().copied().unwrap_or(zero),
            max: v.last().copied().unwrap_or(zero),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The machine's load averages (1, 5 and 15 minutes), as the kernel reports them.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Prints one table of interleaved timings, each row's median also as a multiple of the first
/// row's (the floor).
fn print_table(commands: &[Timed], times: &[Vec<Duration>]) {
    println!(
        "  {:<44} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "command", "median", "q1", "q3", "min", "max", "÷ floor"
    );
    let medians: Vec<Duration> = times.iter().map(|t| Spread::of(t).median).collect();
    for (command, t) in commands.iter().zip(times) {
        let s = Spread::of(t);
        let ratio = s.median.as_secs_f64() / medians[0].as_secs_f64().max(1e-9);
        let f = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
        println!(
            "  {:<44} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7.2}×",
            command.label,
            f(s.median),
            f(s.q1),
            f(s.q3),
            f(s.min),
            f(s.max),
            ratio
        );
    }
}

/// A process that keeps a SQLite database open (the floor binary's `--hold` mode) until dropped.
struct Holder(std::process::Child);

impl Holder {
    /// Starts the holder and waits for it to say it holds the database.
    fn start(floor: &Path, db: &Path) -> Result<Holder, Box<dyn std::error::Error>> {
        let mut child = Command::new(floor)
            .arg("--hold")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.as_mut() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let holder = Holder(child);
        if line.trim() != "holding" {
            return Err(format!("the holder of {} did not start", db.display()).into());
        }
        Ok(holder)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Closing its standard input tells the holder to close the database and exit.
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
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

/// What the command line asked for.
struct Options {
    /// `--quick`: only the closed-store table, few rounds, no 100,000 executions.
    quick: bool,
    /// `--max-ratio X`: fail when a cached rerun's median is more than X times the floor's.
    max_ratio: Option<f64>,
    /// `--compare LABEL=PATH`: another build of this benchmark, timed beside this one.
    compare: Vec<(String, PathBuf)>,
    /// `--floor PATH`: the floor binary (`zenml-bench-floor`).
    floor: PathBuf,
    /// `--mysql URL`.
    mysql: Option<String>,
    rounds: usize,
    executions: usize,
}

fn options(args: &[String]) -> Result<Options, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    // The benchmark runs from `target/release/deps/`; the floor binary is built into
    // `target/release/`.
    let mut floor = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("zenml-bench-floor"))
        .unwrap_or_default();
    let mut o = Options {
        quick: false,
        max_ratio: None,
        compare: Vec::new(),
        floor: PathBuf::new(),
        mysql: None,
        rounds: 0,
        executions: 0,
    };
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} takes a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--bench" => {}
            "--max-ratio" => o.max_ratio = Some(value()?.parse()?),
            "--floor" => floor = PathBuf::from(value()?),
            "--mysql" => o.mysql = Some(value()?.clone()),
            "--compare" => {
                let v = value()?;
                let (label, path) = v.split_once('=').ok_or("--compare takes LABEL=PATH")?;
                o.compare.push((label.to_owned(), PathBuf::from(path)));
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if !floor.is_file() {
        return Err(format!(
            "the floor binary {} is missing: build it first with \
             `cargo build --release -p zenml-bench-floor` (or name it with --floor PATH)",
            floor.display()
        )
        .into());
    }
    o.floor = floor;
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    o.rounds = env("ZENML_BENCH_ROUNDS", if o.quick { 11 } else { 21 });
    o.executions = if o.quick {
        0
    } else {
        env("ZENML_BENCH_EXECUTIONS", 100_000)
    };
    Ok(o)
}

/// A repository of its own for each build timed, with both chains run once (by this build).
fn make_repo(
    dir: &Path,
    database: Option<&MysqlOptions>,
) -> Result<Repository, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let repo = match database {
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
            Repository::init_with(dir, config)?
        }
        None => Repository::init(dir)?,
    };
    Ok(repo.with_options(RunOptions::quiet()))
}

/// The commands of one table: the floor first, then this build, then the builds compared.
fn commands(
    o: &Options,
    floor_db: &Path,
    dirs: &[(String, PathBuf, PathBuf)],
    steps: usize,
) -> Vec<Timed> {
    let n = OsString::from(steps.to_string());
    let mut v = vec![Timed::new(
        format!("floor chain-{steps} (rusqlite, WAL kept)"),
        &o.floor,
        &[floor_db.as_os_str(), &n, OsStr::new("--keep-wal")],
    )];
    if !o.quick {
        v.push(Timed::new(
            format!("floor chain-{steps} (rusqlite, WAL removed)"),
            &o.floor,
            &[floor_db.as_os_str(), &n],
        ));
    }
    for (label, exe, dir) in dirs {
        v.push(Timed::new(
            format!("{label} chain-{steps}"),
            exe,
            &[OsStr::new("--rerun"), dir.as_os_str(), &n],
        ));
    }
    v
}

/// One build's cached rerun over the floor of the same table.
struct Ratio {
    label: String,
    /// Median over median.
    median: f64,
    /// Fastest over fastest: the least disturbed process of each command.
    best: f64,
}

/// Times cached reruns of both chains beside the floor; returns each build's ratios to the
/// floor.
fn tables(
    o: &Options,
    floor_db: &Path,
    dirs: &[(String, PathBuf, PathBuf)],
) -> Result<Vec<Ratio>, Box<dyn std::error::Error>> {
    println!("  load average before: {}", load());
    let mut ratios = Vec::new();
    for steps in [5, 50] {
        let commands = commands(o, floor_db, dirs, steps);
        let times = interleaved(&commands, o.rounds)?;
        print_table(&commands, &times);
        let spreads: Vec<Spread> = times.iter().map(|t| Spread::of(t)).collect();
        let floors = if o.quick { 1 } else { 2 };
        let per = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        for (c, s) in commands.iter().zip(&spreads).skip(floors) {
            ratios.push(Ratio {
                label: c.label.clone(),
                median: per(s.median, spreads[0].median),
                best: per(s.min, spreads[0].min),
            });
        }
    }
    println!("  load average after:  {}", load());
    Ok(ratios)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rerun") {
        let dir = PathBuf::from(args.get(i + 1).ok_or("--rerun DIR STEPS")?);
        let steps: usize = args.get(i + 2).ok_or("--rerun DIR STEPS")?.parse()?;
        return rerun(&dir, steps);
    }
    if args.iter().any(|a| a == "--list") {
        // `cargo bench -- --list` asks for test names; this is not a libtest bench.
        return Ok(());
    }
    let o = options(&args)?;
    let mysql = o
        .mysql
        .as_deref()
        .map(ScratchDatabases::from_url)
        .transpose()?;

    let tmp = tempfile::tempdir()?;
    let this = std::env::current_exe()?;
    let mut builds = vec![("this build".to_owned(), this)];
    builds.extend(o.compare.iter().cloned());
    let databases: Vec<_> = builds
        .iter()
        .map(|_| mysql.as_ref().map(ScratchDatabases::create))
        .collect();
    let kind = match &databases[0] {
        Some(db) => format!("MySQL metadata store ({}, loopback)", db.describe()),
        None => "SQLite metadata store".to_owned(),
    };
    println!("pipeline overhead (repository: {kind} + local artifact folder)");
    let mut dirs = Vec::new();
    for (i, ((label, exe), db)) in builds.iter().zip(&databases).enumerate() {
        let dir = tmp.path().join(format!("repo-{i}"));
        let repo = make_repo(&dir, db.as_ref())?;
        for steps in [5, 50] {
            let start = Instant::now();
            repo.run(&chain(steps))?;
            if i == 0 {
                println!("  first run of chain-{steps:<2}: {}", ms(start.elapsed()));
            }
        }
        // Dropped here: the store is closed before anything is timed.
        dirs.push((label.clone(), exe.clone(), dir));
    }
    let floor_db = tmp.path().join("floor.db");
    let made = Command::new(&o.floor)
        .arg("--init")
        .arg(&floor_db)
        .arg("55")
        .status()?;
    if !made.success() {
        return Err("the floor's database could not be made".into());
    }

    println!(
        "\nfully cached rerun, whole process (spawn to exit), store closed beforehand and no other \
         process holding it;\n{} rounds, the commands interleaved; milliseconds; \"÷ floor\" is the \
         median over the first row's:",
        o.rounds
    );
    let ratios = tables(&o, &floor_db, &dirs)?;
    if let Some(max) = o.max_ratio {
        // A load that comes and goes can slow a few processes of one command only: a build is
        // over the limit when both its median and its fastest run are.
        let over: Vec<String> = ratios
            .iter()
            .filter(|r| r.median > max && r.best > max)
            .map(|r| {
                format!(
                    "{}: median {:.2}×, fastest {:.2}× the floor's",
                    r.label, r.median, r.best
                )
            })
            .collect();
        if !over.is_empty() {
            return Err(format!(
                "cached reruns slower than {max}× the floor: {}",
                over.join("; ")
            )
            .into());
        }
        println!(
            "  every cached rerun within {max}× the floor measured in this run (median or fastest run)"
        );
    }
    if o.quick {
        return Ok(());
    }

    if databases[0].is_none() {
        println!(
            "\nthe same while another process holds each database open (so no process opens it \
             first nor closes it last: a figure that flatters, shown for comparison only):"
        );
        let mut holders = vec![Holder::start(&o.floor, &floor_db)?];
        for (_, _, dir) in &dirs {
            holders.push(Holder::start(&o.floor, &dir.join(".zenml/metadata.db"))?);
        }
        tables(&o, &floor_db, &dirs)?;
        drop(holders);
    }

    if o.executions == 0 {
        return Ok(());
    }
    println!("\nfilling the store with {} executions …", o.executions);
    let repo = Repository::open(&dirs[0].2)?.with_options(RunOptions::quiet());
    let start = Instant::now();
    match &databases[0] {
        Some(db) => {
            let writers = 8;
            fill_concurrently(
                &|| Ok(Arc::new(MysqlMetadataStore::open(db)?) as Arc<dyn MetadataQuery>),
                o.executions,
                writers,
            )?;
            println!(
                "  done in {:.1} s ({writers} writers)",
                start.elapsed().as_secs_f64()
            );
        }
        None => {
            fill(repo.metadata_store().as_ref(), "", o.executions)?;
            println!("  done in {:.1} s", start.elapsed().as_secs_f64());
        }
    }
    let floor_big = tmp.path().join("floor-big.db");
    let made = Command::new(&o.floor)
        .arg("--init")
        .arg(&floor_big)
        .arg((o.executions + 55).to_string())
        .status()?;
    if !made.success() {
        return Err("the floor's database could not be made".into());
    }

    println!("\nwith {} executions in the store:", o.executions);
    let mut per_step = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        let summary = repo.run(&chain(50))?;
        per_step.push(start.elapsed() / 50);
        if summary.cached().len() != 50 {
            return Err("the 50-step rerun was not fully cached".into());
        }
    }
    drop(repo);
    let s = Spread::of(&per_step);
    println!(
        "  cache hit, per step (in process, store open, 50-step chain, 15 runs): median {}  min {}  max {}",
        ms(s.median),
        ms(s.min),
        ms(s.max)
    );
    println!("  whole process, store closed beforehand (this build only):");
    tables(&o, &floor_big, &dirs[..1])?;
    Ok(())
}
