//! Writers that several stores (threads, processes) run on one database, and the check that all
//! their work was recorded, once.

use std::collections::BTreeSet;

use zenml_core::hash::Hash128;
use zenml_core::param::{ParamType, Params, ScalarType, Value};
use zenml_core::step::StepKind;
use zenml_core::store::{
    ExecutionState, MetadataQuery, NewArtifact, NewExecution, RunStatus, StepTypeSpec,
};

pub(crate) fn writer_spec() -> StepTypeSpec {
    StepTypeSpec {
        source: "tests::Writer".to_owned(),
        version: 1,
        kind: StepKind::Trainer,
        doc: "Writes.".to_owned(),
        params: vec![("i".to_owned(), ParamType::scalar(ScalarType::I64))],
    }
}

pub(crate) fn writer_key(tag: &str, i: u32) -> Hash128 {
    Hash128::of(format!("{tag}/{i}").as_bytes())
}

/// `cycles` runs of the pipeline `shared`, each with one completed execution keyed by `tag`.
pub(crate) fn write_cycles(store: &dyn MetadataQuery, tag: &str, cycles: u32) {
    let pipeline = store
        .register_pipeline("shared", "name: shared\n")
        .expect("register_pipeline");
    let ty = store
        .register_step_type(&writer_spec())
        .expect("register_step_type");
    for i in 0..cycles {
        let run = store
            .begin_run(pipeline.id, "name: shared\n", "writer")
            .expect("begin_run");
        let e = store
            .begin_execution(&NewExecution {
                run_id: run.id,
                step_type_id: ty,
                step_name: "writer".to_owned(),
                params: Params::new().with("i", Value::Int(i.into())),
                cache_key: Some(writer_key(tag, i)),
                code_fingerprint: Hash128::of(b"writer"),
                inputs: Vec::new(),
            })
            .expect("begin_execution");
        let hash = Hash128::of(format!("{tag}/{i} bytes").as_bytes());
        let out = NewArtifact {
            uri: format!("file:///artifacts/{hash}"),
            hash,
            size: 10,
            type_name: "zenml.Table".to_owned(),
            base_type: None,
            materializer: "zenml.arrow_ipc@1".to_owned(),
            etag: None,
        };
        store
            .complete_execution(e, &[("out".to_owned(), out)], &[], 1)
            .expect("complete_execution");
        store
            .finish_run(run.id, RunStatus::Completed)
            .expect("finish_run");
    }
}

/// Every writer's work is recorded, and the run numbers are 1..=total without repeats.
pub(crate) fn assert_consistent(store: &dyn MetadataQuery, tags: &[String], cycles: u32) {
    let pipeline = store
        .pipeline_by_name("shared")
        .expect("pipeline_by_name")
        .expect("the pipeline exists");
    let runs = store.runs(Some(pipeline.id)).expect("runs");
    let total = tags.len() * cycles as usize;
    assert_eq!(runs.len(), total);
    let names: BTreeSet<String> = runs.iter().map(|r| r.name.clone()).collect();
    let expected: BTreeSet<String> = (1..=total).map(|n| format!("shared#{n}")).collect();
    assert_eq!(names, expected, "run numbers are unique and without gaps");
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
    for tag in tags {
        for i in 0..cycles {
            let hit = store
                .find_cached(writer_key(tag, i))
                .expect("find_cached")
                .unwrap_or_else(|| panic!("the execution of {tag}/{i} is missing"));
            let e = store.execution(hit.execution_id).expect("execution");
            assert_eq!(e.state, ExecutionState::Complete);
            assert_eq!(e.params.get("i"), Some(&Value::Int(i.into())));
        }
    }
    assert_eq!(store.step_types(None).expect("step_types").len(), 1);
}
