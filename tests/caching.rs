//! Caching on the default stores: a repository made with `Repository::init` (SQLite metadata in
//! `.zenml/metadata.db`, artifacts in `.zenml/artifacts/`).
//!
//! What is reused and what reruns when a parameter, the input data, a step's version or code
//! changes; early cut-off; caching switched off; and artifacts deleted, altered or rewritten
//! behind the store's back.

mod common;
#[path = "common/disk.rs"]
mod disk;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use disk::*;
use zenml::artifact::io::{ContentStore, Damage, Repair, content_key};
use zenml::artifact::{Inputs, Outputs};
use zenml::hash::Hash128;
use zenml::param::{Params, Value};
use zenml::prelude::*;

use zenml::runner::{RunSummary, StepStatus, Verify};
use zenml::step::{DynStep, IntoDynStep, StepInfo, StepKind, StepParams};
use zenml::steps::{CsvDatasource, RandomSplit, StandardScaler};
use zenml::store::{ArtifactRecord, ExecutionState, NewExecution, StepTypeSpec};

const SLOTS: [&str; 5] = [
    "datasource",
    "split",
    "preprocesser",
    "trainer",
    "evaluator",
];

/// The iris training pipeline over the CSV file `csv`.
fn iris_on(csv: &Path, name: &str, shrink: f64) -> Pipeline {
    TrainingPipeline::new(name)
        .add_datasource(CsvDatasource::new(csv.to_string_lossy()))
        .add_split(RandomSplit::default())
        .add_preprocesser(StandardScaler {
            exclude: "species".into(),
        })
        .add_trainer(CentroidTrainer {
            shrink,
            ..CentroidTrainer::default()
        })
        .add_evaluator(Accuracy {})
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

/// Checks which steps executed and which were cached, in the summary and in the metadata store.
#[track_caller]
fn expect(repo: &Repository, s: &RunSummary, executed: &[&str], cached: &[&str]) {
    assert_eq!(
        sorted(s.executed()),
        sorted(executed.to_vec()),
        "executed steps of {}",
        s.run.name
    );
    assert_eq!(
        sorted(s.cached()),
        sorted(cached.to_vec()),
        "cached steps of {}",
        s.run.name
    );
    let recorded = repo.get_run_steps(&s.run).expect("the run's executions");
    assert_eq!(
        recorded.len(),
        executed.len() + cached.len(),
        "{recorded:?}"
    );
    for e in &recorded {
        let want = if executed.contains(&e.step_name.as_str()) {
            ExecutionState::Complete
        } else {
            ExecutionState::Cached
        };
        assert_eq!(e.state, want, "recorded state of `{}`", e.step_name);
        assert_eq!(e.cached_from.is_some(), want == ExecutionState::Cached);
        assert!(!e.outputs.is_empty(), "`{}` has outputs", e.step_name);
    }
}

/// Each of `steps` in `later` reused the execution that ran it in `earlier`.
#[track_caller]
fn reused_from(later: &RunSummary, earlier: &RunSummary, steps: &[&str]) {
    for name in steps {
        let step = later.step(name).expect("a step of the later run");
        let before = earlier.step(name).expect("a step of the earlier run");
        assert_eq!(step.status, StepStatus::Cached, "`{name}`");
        assert_eq!(
            step.cached_from, before.execution_id,
            "`{name}` of {} reuses {}",
            later.run.name, earlier.run.name
        );
        assert_eq!(by_name(&step.outputs), by_name(&before.outputs));
    }
}

fn by_name(outputs: &[(String, ArtifactRecord)]) -> Vec<(String, ArtifactRecord)> {
    let mut v = outputs.to_vec();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn output<'a>(s: &'a RunSummary, step: &str, name: &str) -> &'a ArtifactRecord {
    &s.step(step)
        .unwrap_or_else(|| panic!("no step `{step}`"))
        .outputs
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("`{step}` has no output `{name}`"))
        .1
}

// ---------------------------------------------------------------------------------------------
// What reruns

#[test]
fn a_changed_parameter_reruns_its_step_and_downstream_only() {
    let r = DiskRepo::new();
    let csv = copy_iris(&r.file("iris.csv"));
    let a = iris_on(&csv, "A", 0.0);
    let first = r.repo.run(&a).unwrap();
    expect(&r.repo, &first, &SLOTS, &[]);

    // The trainer's parameter: the trainer and the evaluator rerun.
    let b = a.copy("B").add_trainer(CentroidTrainer {
        shrink: 0.5,
        ..CentroidTrainer::default()
    });
    let second = r.repo.run(&b).unwrap();
    expect(
        &r.repo,
        &second,
        &["trainer", "evaluator"],
        &["datasource", "split", "preprocesser"],
    );
    reused_from(&second, &first, &["datasource", "split", "preprocesser"]);
    let trainer = r
        .repo
        .metadata_store()
        .execution(second.step("trainer").unwrap().execution_id.unwrap())
        .unwrap();
    assert_eq!(trainer.params.get("shrink"), Some(&Value::Float(0.5)));
    assert_ne!(
        output(&second, "trainer", "model").hash,
        output(&first, "trainer", "model").hash
    );

    // The split's parameter: everything after the datasource reruns.
    let c = a.copy("C").add_split(RandomSplit {
        train_ratio: 0.7,
        ..RandomSplit::default()
    });
    let third = r.repo.run(&c).unwrap();
    expect(
        &r.repo,
        &third,
        &["split", "preprocesser", "trainer", "evaluator"],
        &["datasource"],
    );
    reused_from(&third, &first, &["datasource"]);

    // Nothing changed: everything is reused, from the run that computed it.
    let again = r.repo.run(&b).unwrap();
    expect(&r.repo, &again, &[], &SLOTS);
    reused_from(&again, &first, &["datasource", "split", "preprocesser"]);
    reused_from(&again, &second, &["trainer", "evaluator"]);
}

#[test]
fn changed_input_data_reruns_and_restored_data_is_cached_again() {
    let r = DiskRepo::new();
    let csv = copy_iris(&r.file("iris.csv"));
    let original = std::fs::read_to_string(&csv).unwrap();
    let p = iris_on(&csv, "A", 0.0);
    let first = r.repo.run(&p).unwrap();
    expect(&r.repo, &first, &SLOTS, &[]);

    // One value of one row changes.
    let changed = original.replacen("5.1,3.5,1.4,0.2,0", "5.1,3.5,1.4,0.3,0", 1);
    assert_ne!(changed, original);
    std::fs::write(&csv, &changed).unwrap();
    let second = r.repo.run(&p).unwrap();
    expect(&r.repo, &second, &SLOTS, &[]);
    assert_ne!(
        output(&second, "datasource", "data").hash,
        output(&first, "datasource", "data").hash
    );
    assert_ne!(
        second.step("datasource").unwrap().cache_key,
        first.step("datasource").unwrap().cache_key
    );

    // Changed back: the first run's entries are reused.
    std::fs::write(&csv, &original).unwrap();
    let third = r.repo.run(&p).unwrap();
    expect(&r.repo, &third, &[], &SLOTS);
    reused_from(&third, &first, &SLOTS);
    // And the changed data's entries are still there.
    std::fs::write(&csv, &changed).unwrap();
    let fourth = r.repo.run(&p).unwrap();
    expect(&r.repo, &fourth, &[], &SLOTS);
    reused_from(&fourth, &second, &SLOTS);
}

/// Reads every CSV file under a folder, in path order, into one table.
#[step]
#[derive(Debug)]
pub struct CsvFolder {
    /// The folder.
    pub path: String,
}

#[step]
impl DatasourceStep for CsvFolder {
    fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
        fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    files(&path, out)?;
                } else {
                    out.push(path);
                }
            }
            Ok(())
        }
        let mut all = Vec::new();
        files(Path::new(&self.path), &mut all)?;
        all.sort();
        let mut values = Vec::new();
        for file in all {
            values.extend(Table::read_csv(&file)?.column_f64("x")?);
        }
        let x = zenml::ndarray::Array2::from_shape_vec((values.len(), 1), values)?;
        Ok(Table::from_ndarray(&["x"], &x)?)
    }

    // No fingerprint of its own: naming the folder is enough.
    fn location(&self) -> Option<DataLocation> {
        Some(DataLocation::folder(&self.path))
    }
}

#[test]
fn a_datasource_that_names_its_folder_is_reused_exactly_while_the_folder_is_unchanged() {
    let r = DiskRepo::new();
    let folder = r.file("parts");
    std::fs::create_dir_all(folder.join("more")).unwrap();
    std::fs::write(folder.join("a.csv"), "x\n1\n2\n").unwrap();
    std::fs::write(folder.join("more").join("b.csv"), "x\n3\n").unwrap();
    let p = Pipeline::new("parts").add_step(
        "load",
        CsvFolder {
            path: folder.to_string_lossy().into_owned(),
        },
        [],
    );
    fn states(s: &RunSummary) -> (Vec<&str>, Vec<&str>) {
        (s.executed(), s.cached())
    }
    let first = r.repo.run(&p).unwrap();
    assert_eq!(states(&first), (vec!["load"], vec![]));
    // Unchanged, even with its files' times touched: reused.
    std::fs::write(folder.join("a.csv"), "x\n1\n2\n").unwrap();
    let again = r.repo.run(&p).unwrap();
    assert_eq!(states(&again), (vec![], vec!["load"]));
    // A file edited, added or renamed: read again.
    for change in [
        &(|f: &Path| std::fs::write(f.join("more").join("b.csv"), "x\n4\n"))
            as &dyn Fn(&Path) -> std::io::Result<()>,
        &|f: &Path| std::fs::write(f.join("c.csv"), "x\n5\n"),
        &|f: &Path| std::fs::rename(f.join("c.csv"), f.join("d.csv")),
    ] {
        change(&folder).unwrap();
        let run = r.repo.run(&p).unwrap();
        assert_eq!(states(&run), (vec!["load"], vec![]));
    }
    // A folder that is gone: the error names it.
    std::fs::remove_dir_all(&folder).unwrap();
    let e = r.repo.run(&p).unwrap_err().to_string();
    assert!(
        e.contains(&format!("cannot fingerprint `{}`", folder.display())),
        "{e}"
    );
}

#[test]
fn a_rerun_step_with_identical_output_leaves_downstream_cached() {
    let r = DiskRepo::new();
    let csv = copy_iris(&r.file("iris.csv"));
    let a = iris_on(&csv, "A", 0.0);
    let first = r.repo.run(&a).unwrap();

    // The datasource executes again (caching off for it alone) and reads the same bytes: its
    // output has the same content, so everything downstream is reused.
    let fresh = a.copy("A fresh data").step_cache("datasource", false);
    let second = r.repo.run(&fresh).unwrap();
    expect(
        &r.repo,
        &second,
        &["datasource"],
        &["split", "preprocesser", "trainer", "evaluator"],
    );
    reused_from(
        &second,
        &first,
        &["split", "preprocesser", "trainer", "evaluator"],
    );
    let (old, new) = (
        output(&first, "datasource", "data"),
        output(&second, "datasource", "data"),
    );
    assert_ne!(new.id, old.id, "the new execution records its own output");
    assert_eq!((new.hash, &new.uri), (old.hash, &old.uri), "stored once");
    // The split's input is the new artifact, with the same content.
    let split = r
        .repo
        .metadata_store()
        .execution(second.step("split").unwrap().execution_id.unwrap())
        .unwrap();
    assert_eq!(split.inputs, vec![("data".to_owned(), new.id)]);

    // A parameter change upstream that does not change the upstream output: `n = 1` gives the
    // table [0] whatever the scale.
    let dag = |name: &str, scale: f64| {
        Pipeline::new(name)
            .add_step("numbers", Numbers { n: 1, scale }, [])
            .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
    };
    let one = r.repo.run(&dag("scale 1", 1.0)).unwrap();
    expect(&r.repo, &one, &["numbers", "sum"], &[]);
    let five = r.repo.run(&dag("scale 5", 5.0)).unwrap();
    expect(&r.repo, &five, &["numbers"], &["sum"]);
    reused_from(&five, &one, &["sum"]);
}

#[test]
fn touching_or_rewriting_the_data_file_with_the_same_content_keeps_the_cache() {
    let r = DiskRepo::new();
    let csv = copy_iris(&r.file("iris.csv"));
    let p = iris_on(&csv, "A", 0.0);
    let first = r.repo.run(&p).unwrap();

    // A new modification time.
    let file = std::fs::File::options().write(true).open(&csv).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    drop(file);
    let touched = r.repo.run(&p).unwrap();
    expect(&r.repo, &touched, &[], &SLOTS);
    reused_from(&touched, &first, &SLOTS);

    // A new file (new inode) with the same bytes.
    let bytes = std::fs::read(&csv).unwrap();
    let tmp = r.file("iris.csv.new");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, &csv).unwrap();
    let rewritten = r.repo.run(&p).unwrap();
    expect(&r.repo, &rewritten, &[], &SLOTS);
    reused_from(&rewritten, &first, &SLOTS);
}

/// A step that behaves as `inner` but reports another version, or another code fingerprint: what
/// a new build of the step's crate would report.
struct Altered {
    inner: Box<dyn DynStep>,
    version_delta: u32,
    fingerprint: Option<Hash128>,
}

impl Altered {
    fn version_bump(step: impl IntoDynStep) -> Box<dyn DynStep> {
        Box::new(Altered {
            inner: step.into_dyn_step(),
            version_delta: 1,
            fingerprint: None,
        })
    }

    fn new_code(step: impl IntoDynStep, fingerprint: Hash128) -> Box<dyn DynStep> {
        Box::new(Altered {
            inner: step.into_dyn_step(),
            version_delta: 0,
            fingerprint: Some(fingerprint),
        })
    }
}

impl DynStep for Altered {
    fn info(&self) -> StepInfo {
        let mut info = self.inner.info();
        info.version += self.version_delta;
        if let Some(f) = self.fingerprint {
            info.code_fingerprint = f;
        }
        info
    }
    fn params(&self) -> Params {
        self.inner.params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        self.inner.inputs()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        self.inner.outputs()
    }
    fn external_fingerprint(&self, ctx: &StepContext) -> StepResult<Option<Hash128>> {
        self.inner.external_fingerprint(ctx)
    }
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        self.inner.run(ctx, inputs)
    }
    fn clone_box(&self) -> Box<dyn DynStep> {
        Box::new(Altered {
            inner: self.inner.clone_box(),
            version_delta: self.version_delta,
            fingerprint: self.fingerprint,
        })
    }
}

fn sum_dag(name: &str, sum: Box<dyn DynStep>) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n: 50, scale: 1.0 }, [])
        .add_step("sum", sum, [("numbers", "numbers.numbers")])
        .add_step("check", MaybeFail::default(), [("x", "sum.total")])
}

#[test]
fn a_new_step_version_or_new_step_code_reruns_the_step() {
    let r = DiskRepo::new();
    let md = r.repo.metadata_store();
    let v1 = r.repo.run(&sum_dag("v1", Sum {}.into_dyn_step())).unwrap();
    expect(&r.repo, &v1, &["numbers", "sum", "check"], &[]);

    // Version 2 of `Sum`: it reruns; it computes the same total, so `check` stays cached.
    let v2 = r
        .repo
        .run(&sum_dag("v2", Altered::version_bump(Sum {})))
        .unwrap();
    expect(&r.repo, &v2, &["sum"], &["numbers", "check"]);
    assert_ne!(
        v2.step("sum").unwrap().cache_key,
        v1.step("sum").unwrap().cache_key
    );
    let sum = md
        .execution(v2.step("sum").unwrap().execution_id.unwrap())
        .unwrap();
    assert_eq!((sum.source.as_str(), sum.version), (Sum::SOURCE, 2));
    let versions: Vec<u32> = md
        .step_types(Some(Sum::SOURCE))
        .unwrap()
        .iter()
        .map(|t| t.version)
        .collect();
    assert_eq!(versions, vec![1, 2]);
    // Each version reuses its own entries.
    let v2_again = r
        .repo
        .run(&sum_dag("v2", Altered::version_bump(Sum {})))
        .unwrap();
    expect(&r.repo, &v2_again, &[], &["numbers", "sum", "check"]);
    reused_from(&v2_again, &v2, &["sum"]);
    let v1_again = r.repo.run(&sum_dag("v1", Sum {}.into_dyn_step())).unwrap();
    reused_from(&v1_again, &v1, &["numbers", "sum", "check"]);

    // New code under the same version (a rebuilt binary): the config does not change, so the
    // pipeline runs under its name, and the step reruns.
    let fingerprint = Hash128::of(b"another body of Sum::run");
    let new_code = r
        .repo
        .run(&sum_dag("v1", Altered::new_code(Sum {}, fingerprint)))
        .unwrap();
    expect(&r.repo, &new_code, &["sum"], &["numbers", "check"]);
    let sum = md
        .execution(new_code.step("sum").unwrap().execution_id.unwrap())
        .unwrap();
    assert_eq!(sum.code_fingerprint, Some(fingerprint));
    assert_eq!(sum.version, 1);
    let versions = r.repo.get_step_versions(Sum::SOURCE).unwrap();
    let v1_fingerprints = &versions.iter().find(|v| v.version == 1).unwrap();
    assert!(
        v1_fingerprints.code_fingerprints.contains(&fingerprint)
            && v1_fingerprints.code_fingerprints.len() == 2,
        "{versions:?}"
    );
}

#[test]
fn caching_switched_off_reruns_and_still_records_for_later_reuse() {
    let r = DiskRepo::new();
    let csv = copy_iris(&r.file("iris.csv"));
    let a = iris_on(&csv, "A", 0.0);
    let off = r.repo.options().clone().with_cache(false);

    // Per run.
    let first = r.repo.run_with(&a, off.clone()).unwrap();
    expect(&r.repo, &first, &SLOTS, &[]);
    let second = r.repo.run_with(&a, off.clone()).unwrap();
    expect(&r.repo, &second, &SLOTS, &[]);
    let third = r.repo.run(&a).unwrap();
    expect(&r.repo, &third, &[], &SLOTS);
    // The newest computation is the one reused.
    reused_from(&third, &second, &SLOTS);

    // Per pipeline.
    let no_cache = a.copy("A without cache").with_cache(false);
    let p1 = r.repo.run(&no_cache).unwrap();
    expect(&r.repo, &p1, &SLOTS, &[]);
    let cached = r.repo.run(&a.copy("A cached")).unwrap();
    reused_from(&cached, &p1, &SLOTS);

    // Per step: the trainer reruns (and, deterministic, gives the same model: the evaluator is
    // reused).
    let fresh_trainer = a.copy("A fresh trainer").step_cache("trainer", false);
    let s1 = r.repo.run(&fresh_trainer).unwrap();
    expect(
        &r.repo,
        &s1,
        &["trainer"],
        &["datasource", "split", "preprocesser", "evaluator"],
    );
    let s2 = r.repo.run(&fresh_trainer).unwrap();
    expect(
        &r.repo,
        &s2,
        &["trainer"],
        &["datasource", "split", "preprocesser", "evaluator"],
    );
    let later = r.repo.run(&a).unwrap();
    reused_from(&later, &s2, &["trainer"]);
}

// ---------------------------------------------------------------------------------------------
// Artifacts changed behind the store's back

/// The iris pipeline on a fresh disk repository, run once; the trainer's model and its bytes.
struct Trained {
    r: DiskRepo,
    pipeline: Pipeline,
    first: RunSummary,
    model: ArtifactRecord,
    bytes: Vec<u8>,
}

fn trained() -> Trained {
    let r = DiskRepo::new();
    let csv = copy_iris(&r.file("iris.csv"));
    let pipeline = iris_on(&csv, "A", 0.0);
    let first = r.repo.run(&pipeline).expect("the first run");
    let model = output(&first, "trainer", "model").clone();
    let bytes = std::fs::read(r.artifact_file(&model)).expect("the model's file");
    assert_eq!(bytes.len() as u64, model.size);
    Trained {
        r,
        pipeline,
        first,
        model,
        bytes,
    }
}

impl Trained {
    /// `rerun` computed the trainer again, and only the trainer, after one repair of its model:
    /// returns that repair.
    #[track_caller]
    fn trainer_recomputed<'a>(&self, rerun: &'a RunSummary) -> &'a zenml::runner::Repaired {
        expect(
            &self.r.repo,
            rerun,
            &["trainer"],
            &["datasource", "split", "preprocesser", "evaluator"],
        );
        assert_eq!(rerun.repairs.len(), 1, "{:#?}", rerun.repairs);
        let repaired = &rerun.repairs[0];
        assert_eq!(repaired.step, "trainer");
        repaired
    }

    /// The model file holds the right bytes again, reads back verified, and its new record is
    /// what the next run reuses.
    #[track_caller]
    fn repaired(&self, rerun: &RunSummary) {
        let path = self.r.artifact_file(&self.model);
        assert_eq!(
            std::fs::read(&path).expect("the model's file"),
            self.bytes,
            "the model's bytes"
        );
        let record = output(rerun, "trainer", "model");
        assert_eq!(
            (record.hash, &record.uri),
            (self.model.hash, &self.model.uri)
        );
        ContentStore::new(self.r.repo.artifact_store().as_ref())
            .verify(record)
            .expect("the model verifies");
        let model: std::sync::Arc<Centroids> = self
            .r
            .repo
            .load_artifact(record)
            .expect("the model reads back");
        let before: std::sync::Arc<Centroids> = self
            .r
            .repo
            .load_artifact(&self.model)
            .expect("the first model reads back");
        assert_eq!(model, before);
        let next = self.r.repo.run(&self.pipeline).expect("the next run");
        expect(&self.r.repo, &next, &[], &SLOTS);
        reused_from(&next, rerun, &["trainer"]);
    }

    /// Rewrites the model's file in place (same inode) with `bytes`, and moves its modification
    /// time forward so that its ETag changes however coarse the file system's clock.
    fn overwrite_in_place(&self, bytes: &[u8]) {
        let path = self.r.artifact_file(&self.model);
        let mut file = std::fs::File::options()
            .write(true)
            .truncate(true)
            .open(&path)
            .expect("open the model's file");
        std::io::Write::write_all(&mut file, bytes).expect("rewrite the model's file");
        file.set_modified(SystemTime::now() + Duration::from_secs(60))
            .expect("set the model's modification time");
    }
}

#[test]
fn a_deleted_artifact_is_recomputed_and_republished() {
    let t = trained();
    std::fs::remove_file(t.r.artifact_file(&t.model)).unwrap();
    let rerun = t.r.repo.run(&t.pipeline).unwrap();
    // The model is identical once recomputed, so the evaluator is still reused.
    expect(
        &t.r.repo,
        &rerun,
        &["trainer"],
        &["datasource", "split", "preprocesser", "evaluator"],
    );
    reused_from(&rerun, &t.first, &["evaluator"]);
    assert_eq!(rerun.repairs.len(), 1, "{:#?}", rerun.repairs);
    assert_eq!(rerun.repairs[0].step, "trainer");
    assert_eq!(rerun.repairs[0].report.damage, Damage::Missing);
    t.repaired(&rerun);
}

#[test]
fn an_artifact_altered_in_place_is_not_trusted() {
    for (what, alter) in [
        (
            "same size",
            Box::new(|b: &mut Vec<u8>| {
                let mid = b.len() / 2;
                b[mid] ^= 0x55;
            }) as Box<dyn Fn(&mut Vec<u8>)>,
        ),
        ("one byte more", Box::new(|b: &mut Vec<u8>| b.push(b'!'))),
        (
            "truncated",
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() / 2)),
        ),
    ] {
        let t = trained();
        let mut bytes = t.bytes.clone();
        alter(&mut bytes);
        t.overwrite_in_place(&bytes);
        let rerun = t.r.repo.run(&t.pipeline).unwrap();
        let report = &t.trainer_recomputed(&rerun).report;
        assert_eq!(
            std::fs::read(t.r.artifact_file(&t.model)).unwrap(),
            t.bytes,
            "{what}"
        );
        assert_eq!(report.repair, Repair::Removed, "{what}");
        if what == "same size" {
            assert!(matches!(report.damage, Damage::Altered(_)), "{report:?}");
        } else {
            assert!(
                matches!(report.damage, Damage::WrongSize { .. }),
                "{report:?}"
            );
        }
        t.repaired(&rerun);
    }
}

#[test]
fn an_altered_artifact_is_repaired_by_a_run_without_cache() {
    // The step executes without looking at the cache, and publishes bytes that already have an
    // object at their content key: the damaged object must not be kept.
    for same_size in [true, false] {
        let t = trained();
        let mut bytes = t.bytes.clone();
        if same_size {
            bytes[0] ^= 0xff;
        } else {
            bytes.extend_from_slice(b"tail");
        }
        t.overwrite_in_place(&bytes);
        let off = t.r.repo.options().clone().with_cache(false);
        let rerun = t.r.repo.run_with(&t.pipeline, off).unwrap();
        expect(&t.r.repo, &rerun, &SLOTS, &[]);
        // Found while the trainer wrote its model again: no recorded artifact to name yet.
        assert_eq!(rerun.repairs.len(), 1, "{:#?}", rerun.repairs);
        assert_eq!(rerun.repairs[0].step, "trainer");
        assert_eq!(rerun.repairs[0].artifact_id, None);
        assert_eq!(rerun.repairs[0].report.repair, Repair::Rewritten);
        t.repaired(&rerun);
    }
}

#[test]
fn an_artifact_rewritten_with_identical_bytes_is_still_a_hit_and_its_etag_is_updated() {
    let t = trained();
    let store = t.r.repo.artifact_store();
    let key = content_key(t.model.hash);
    let path = t.r.artifact_file(&t.model);
    let recorded = t.r.repo.get_artifact(t.model.id).unwrap().etag;
    assert!(recorded.is_some(), "a local artifact has an ETag");
    assert_eq!(recorded, store.head(&key).unwrap().unwrap().etag);

    // A new file with the same bytes: another inode, another ETag.
    let tmp = t.r.file("model.new");
    std::fs::write(&tmp, &t.bytes).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let now = store.head(&key).unwrap().unwrap().etag;
    assert_ne!(now, recorded);

    let rerun = t.r.repo.run(&t.pipeline).unwrap();
    expect(&t.r.repo, &rerun, &[], &SLOTS);
    reused_from(&rerun, &t.first, &SLOTS);
    assert_eq!(
        t.r.repo.get_artifact(t.model.id).unwrap().etag,
        now,
        "the bytes were checked and the new ETag recorded"
    );

    // A record without an ETag (from a store that had none) is checked and then gets one.
    t.r.repo
        .metadata_store()
        .set_artifact_etag(t.model.id, None)
        .unwrap();
    assert_eq!(t.r.repo.get_artifact(t.model.id).unwrap().etag, None);
    let again = t.r.repo.run(&t.pipeline).unwrap();
    expect(&t.r.repo, &again, &[], &SLOTS);
    assert_eq!(t.r.repo.get_artifact(t.model.id).unwrap().etag, now);
}

/// Flips one byte of an artifact's file in place and puts its modification time back, as bit
/// rot does: the size and the ETag stay as recorded.
fn rot(r: &DiskRepo, record: &ArtifactRecord) {
    let path = r.artifact_file(record);
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("the artifact's modification time");
    let mut bytes = std::fs::read(&path).expect("the artifact's bytes");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let mut file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open the artifact's file");
    std::io::Write::write_all(&mut file, &bytes).expect("alter the artifact in place");
    file.set_modified(mtime)
        .expect("put the modification time back");
    drop(file);
    let now = r
        .repo
        .artifact_store()
        .head(&content_key(record.hash))
        .expect("head")
        .expect("the object is there");
    assert_eq!(now.etag, record.etag, "the ETag did not change");
}

#[test]
fn a_damaged_input_is_never_used_its_producer_is_recomputed_and_the_repair_reported() {
    // The preprocesser's `train` table rots: the quick check cannot tell, so the preprocesser
    // is still a hit. A trainer with a new parameter must read it: reading verifies the bytes,
    // the damage is reported by name, and the preprocesser is computed again in the same run
    // before the trainer reads its output.
    let t = trained();
    let train = output(&t.first, "preprocesser", "train").clone();
    rot(&t.r, &train);

    let b = t.pipeline.copy("B").add_trainer(CentroidTrainer {
        shrink: 0.25,
        ..CentroidTrainer::default()
    });
    let run = t.r.repo.run(&b).unwrap();
    assert_eq!(run.repairs.len(), 1, "{:#?}", run.repairs);
    let repaired = &run.repairs[0];
    assert_eq!(
        (repaired.step.as_str(), repaired.output.as_str()),
        ("preprocesser", "train")
    );
    assert_eq!(repaired.artifact_id, Some(train.id));
    assert_eq!(repaired.report.uri, train.uri);
    assert!(
        matches!(repaired.report.damage, Damage::Altered(ref m) if m.expected == train.hash),
        "{repaired:?}"
    );
    assert_eq!(repaired.report.repair, Repair::Removed);
    let message = repaired.to_string();
    for part in [
        format!("artifact {}", train.id),
        "output `train` of step `preprocesser`".to_owned(),
        "altered".to_owned(),
        "the damaged object was removed".to_owned(),
        "step `preprocesser` computed it again".to_owned(),
    ] {
        assert!(message.contains(&part), "`{message}` says {part}");
    }

    let status = |name: &str| run.step(name).unwrap().status;
    assert_eq!(status("datasource"), StepStatus::Cached);
    assert_eq!(status("split"), StepStatus::Cached);
    assert_eq!(status("preprocesser"), StepStatus::Completed);
    assert_eq!(status("trainer"), StepStatus::Completed);
    assert_eq!(status("evaluator"), StepStatus::Completed);
    // The run's record shows the reuse that found the damage, then the step computed again.
    let recorded = t.r.repo.get_run_steps(&run.run).unwrap();
    let preprocesser: Vec<ExecutionState> = recorded
        .iter()
        .filter(|e| e.step_name == "preprocesser")
        .map(|e| e.state)
        .collect();
    assert_eq!(
        preprocesser,
        [ExecutionState::Cached, ExecutionState::Complete]
    );
    let again = output(&run, "preprocesser", "train");
    assert_eq!(again.hash, train.hash, "the same bytes, computed again");
    ContentStore::new(t.r.repo.artifact_store().as_ref())
        .verify(again)
        .unwrap();

    // Nothing damaged is left: the next run reuses everything, reporting nothing.
    let next = t.r.repo.run(&b).unwrap();
    expect(&t.r.repo, &next, &[], &SLOTS);
    assert!(next.repairs.is_empty());
}

#[test]
fn damage_upstream_of_damage_is_found_and_each_producer_computed_again_in_order() {
    // Both the split's `train` table and the preprocesser's `train` table rot. The new trainer
    // reads the preprocesser's: damaged, so the preprocesser runs again, reads the split's:
    // damaged too, so the split runs again first.
    let t = trained();
    let split_train = output(&t.first, "split", "train").clone();
    let pre_train = output(&t.first, "preprocesser", "train").clone();
    rot(&t.r, &split_train);
    rot(&t.r, &pre_train);
    let b = t.pipeline.copy("B").add_trainer(CentroidTrainer {
        shrink: 0.5,
        ..CentroidTrainer::default()
    });
    let run = t.r.repo.run(&b).unwrap();
    let found: Vec<(&str, &str, Option<i64>)> = run
        .repairs
        .iter()
        .map(|r| (r.step.as_str(), r.output.as_str(), r.artifact_id))
        .collect();
    assert_eq!(
        found,
        [
            ("preprocesser", "train", Some(pre_train.id)),
            ("split", "train", Some(split_train.id)),
        ]
    );
    let status = |name: &str| run.step(name).unwrap().status;
    assert_eq!(status("datasource"), StepStatus::Cached);
    for step in ["split", "preprocesser", "trainer", "evaluator"] {
        assert_eq!(status(step), StepStatus::Completed, "{step}");
    }
    assert_eq!(output(&run, "split", "train").hash, split_train.hash);
    assert_eq!(output(&run, "preprocesser", "train").hash, pre_train.hash);
    t.r.repo
        .verify_artifacts(false, |_| {})
        .map(|report| assert!(report.damaged.is_empty(), "{:#?}", report.damaged))
        .unwrap();
}

#[test]
fn with_full_verification_a_rotten_output_is_never_a_cache_hit() {
    let t = trained();
    rot(&t.r, &t.model);
    // The quick check trusts the size and the ETag: the whole pipeline is a hit.
    let quick = t.r.repo.run(&t.pipeline).unwrap();
    expect(&t.r.repo, &quick, &[], &SLOTS);
    assert!(quick.repairs.is_empty());

    let full = t.r.repo.options().clone().with_verify(Verify::Full);
    let rerun = t.r.repo.run_with(&t.pipeline, full).unwrap();
    let repaired = t.trainer_recomputed(&rerun);
    assert_eq!(repaired.artifact_id, Some(t.model.id));
    assert!(matches!(repaired.report.damage, Damage::Altered(_)));
    t.repaired(&rerun);
}

#[test]
fn a_folder_where_an_artifact_should_be_is_moved_aside_and_the_artifact_recomputed() {
    let t = trained();
    let path = t.r.artifact_file(&t.model);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("note.txt"), b"someone's file").unwrap();

    let rerun = t.r.repo.run(&t.pipeline).unwrap();
    let report = &t.trainer_recomputed(&rerun).report;
    assert_eq!(
        report.damage,
        Damage::NotAnObject {
            found: "a folder".to_owned()
        }
    );
    let Repair::MovedAside(to) = &report.repair else {
        panic!("the folder is moved aside: {report:?}");
    };
    assert_eq!(
        std::fs::read(Path::new(to).join("note.txt")).unwrap(),
        b"someone's file",
        "what was moved aside is kept"
    );
    t.repaired(&rerun);
}

#[test]
fn a_cache_entry_without_every_declared_output_is_not_reused() {
    // A COMPLETE execution with the trainer's cache key but without its `model` output (a store
    // edited by hand, or written by a buggy client) is the newest entry for the key.
    let t = trained();
    let md = t.r.repo.metadata_store();
    let trainer = t.first.step("trainer").unwrap();
    let key = trainer.cache_key.unwrap();
    let pipeline = md.pipeline_by_name("A").unwrap().unwrap();
    let run = md.begin_run(pipeline.id, &pipeline.config, "test").unwrap();
    let step_type_id = md
        .register_step_type(&StepTypeSpec {
            source: CentroidTrainer::SOURCE.to_owned(),
            version: CentroidTrainer::VERSION,
            kind: StepKind::Trainer,
            doc: CentroidTrainer::DOC.to_owned(),
            params: CentroidTrainer::PARAM_SPECS
                .iter()
                .map(|p| (p.name.to_owned(), p.ty))
                .collect(),
        })
        .unwrap();
    let recorded = md.execution(trainer.execution_id.unwrap()).unwrap();
    let partial = md
        .begin_execution(&NewExecution {
            run_id: run.id,
            step_type_id,
            step_name: "trainer".to_owned(),
            params: recorded.params.clone(),
            cache_key: Some(key),
            code_fingerprint: recorded.code_fingerprint.unwrap(),
            inputs: recorded.inputs.clone(),
        })
        .unwrap();
    md.complete_execution(partial, &[], &[], 1).unwrap();
    md.finish_run(run.id, zenml::store::RunStatus::Completed)
        .unwrap();
    assert_eq!(md.find_cached(key).unwrap().unwrap().execution_id, partial);

    let rerun = t.r.repo.run(&t.pipeline).unwrap();
    expect(
        &t.r.repo,
        &rerun,
        &["trainer"],
        &["datasource", "split", "preprocesser", "evaluator"],
    );
    t.repaired(&rerun);
}

#[test]
fn a_scrub_finds_rot_the_cache_cannot_see_names_each_artifact_and_repairs_it() {
    let t = trained();
    rot(&t.r, &t.model);
    let mut seen = Vec::new();
    let report = t.r.repo.verify_artifacts(false, |p| seen.push(p)).unwrap();
    let recorded: usize = t.first.steps.iter().map(|s| s.outputs.len()).sum();
    assert_eq!(report.artifacts, recorded as u64, "{report:#?}");
    assert_eq!(report.objects, recorded as u64);
    assert_eq!(seen.len(), recorded, "progress after each object");
    assert_eq!(seen.last().map(|p| p.damaged), Some(1));
    assert_eq!(report.damaged.len(), 1, "{report:#?}");
    let d = &report.damaged[0];
    assert_eq!(d.artifact.id, t.model.id);
    assert_eq!(
        d.producer.as_ref().map(|p| p.step_name.as_str()),
        Some("trainer")
    );
    assert!(matches!(d.damage, Damage::Altered(_)), "{d:?}");
    assert_eq!(d.repair, None, "a check alone repairs nothing");
    assert!(t.r.artifact_file(&t.model).is_file());

    let repaired = t.r.repo.verify_artifacts(true, |_| {}).unwrap();
    assert_eq!(repaired.damaged.len(), 1);
    assert_eq!(repaired.damaged[0].repair, Some(Repair::Removed));
    assert!(!t.r.artifact_file(&t.model).exists());
    let after = t.r.repo.verify_artifacts(false, |_| {}).unwrap();
    assert_eq!(after.damaged.len(), 1);
    assert_eq!(after.damaged[0].damage, Damage::Missing);

    // The next run computes the trainer again, reporting the missing model.
    let rerun = t.r.repo.run(&t.pipeline).unwrap();
    assert_eq!(t.trainer_recomputed(&rerun).report.damage, Damage::Missing);
    t.repaired(&rerun);
    let clean = t.r.repo.verify_artifacts(false, |_| {}).unwrap();
    assert!(clean.damaged.is_empty(), "{clean:#?}");
}
