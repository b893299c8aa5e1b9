//! End to end: the iris quickstart on a repository made with `Repository::init`, read back by
//! Google's ML Metadata library from `.zenml/metadata.db`.
//!
//! Runs only when `ZENML_TEST_MLMD_PYTHON` names a python with ml-metadata 1.17.1 (the reader
//! script is `ZENML_TEST_MLMD_READER`, or `tools/mlmd/mlmd_read.py` in the workspace).

mod common;
#[path = "common/disk.rs"]
mod disk;

use std::collections::BTreeSet;

use common::*;
use disk::*;
use serde_json::Value as Json;
use zenml::param::Value;
use zenml::store::{ExecutionRecord, ExecutionState, Id};

fn find<'a>(list: &'a Json, key: &str, value: &Json) -> &'a Json {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|x| &x[key] == value)
        .unwrap_or_else(|| panic!("nothing with {key} = {value} in {list:#}"))
}

fn ids(v: &Json) -> BTreeSet<Id> {
    v.as_array()
        .expect("a list of ids")
        .iter()
        .map(|x| x.as_i64().expect("an id"))
        .collect()
}

/// A parameter value as ML Metadata reads it (doubles at 15 significant digits).
fn same(json: &Json, value: &Value) -> bool {
    match value {
        Value::Bool(b) => json.as_bool() == Some(*b),
        Value::Int(i) => json.as_i64() == Some(*i),
        Value::Float(f) => json.as_f64().is_some_and(|j| (j - f).abs() <= 1e-12),
        Value::Str(s) => json.as_str() == Some(s.as_str()),
        _ => false,
    }
}

#[test]
fn ml_metadata_reads_the_quickstart_repository() {
    let reader = match mlmd_reader() {
        Ok(r) => r,
        Err(why) => {
            zenml_core::store::conformance::skip(
                "ml_metadata_reads_the_quickstart_repository",
                &why,
            );
            return;
        }
    };
    let r = DiskRepo::new();
    let repo = &r.repo;
    let a = iris_pipeline("Pipeline A", 0.0);
    let first = repo.run(&a).unwrap();
    let second = repo.run(&a).unwrap();
    assert_eq!(second.cached().len(), 5);
    let b = repo
        .get_pipeline_by_name("Pipeline A")
        .unwrap()
        .copy("Pipeline B")
        .add_trainer(CentroidTrainer {
            shrink: 0.5,
            ..CentroidTrainer::default()
        });
    let third = repo.run(&b).unwrap();
    assert_eq!(third.executed(), vec!["trainer", "evaluator"]);

    // The repository stays open, as it would while a program uses it.
    let json = mlmd_read(&reader, &r.metadata_db());
    let md = repo.metadata_store();

    // Pipelines, and runs under their pipeline.
    let context_types: Vec<&str> = json["types"]["context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        context_types.contains(&"zenml.pipeline") && context_types.contains(&"zenml.pipeline_run"),
        "{context_types:?}"
    );
    let contexts = &json["contexts"];
    for (pipeline, runs) in [
        ("Pipeline A", vec![&first, &second]),
        ("Pipeline B", vec![&third]),
    ] {
        let p = find(contexts, "name", &Json::from(pipeline));
        assert_eq!(p["type"], "zenml.pipeline");
        let pid = p["id"].as_i64().unwrap();
        let run_ids: BTreeSet<Id> = runs.iter().map(|s| s.run.id).collect();
        assert_eq!(ids(&p["child_context_ids"]), run_ids, "runs of {pipeline}");
        for s in runs {
            let c = find(contexts, "id", &Json::from(s.run.id));
            assert_eq!(c["name"], s.run.name.as_str());
            assert_eq!(c["type"], "zenml.pipeline_run");
            assert_eq!(ids(&c["parent_context_ids"]), BTreeSet::from([pid]));
            let execution_ids: BTreeSet<Id> =
                s.steps.iter().map(|x| x.execution_id.unwrap()).collect();
            assert_eq!(ids(&c["execution_ids"]), execution_ids);
        }
    }

    // Every execution, with its step's parameters as properties.
    let recorded: Vec<(Id, ExecutionRecord)> = [&first, &second, &third]
        .iter()
        .flat_map(|s| {
            md.executions(s.run.id)
                .unwrap()
                .into_iter()
                .map(|e| (s.run.pipeline_id, e))
        })
        .collect();
    assert_eq!(recorded.len(), 15);
    assert_eq!(json["counts"]["executions"], 15);
    let events = &json["events"];
    let mut artifact_ids = BTreeSet::new();
    for (pipeline_id, e) in &recorded {
        let x = find(&json["executions"], "id", &Json::from(e.id));
        assert_eq!(x["type"], e.source.as_str());
        let state = match e.state {
            ExecutionState::Complete => "COMPLETE",
            ExecutionState::Cached => "CACHED",
            other => panic!("execution {} is {other}", e.id),
        };
        assert_eq!(x["state"], state, "execution {}", e.id);
        let props = x["properties"].as_object().unwrap();
        let params: Vec<(&str, &Value)> = e
            .params
            .iter()
            .filter(|(_, v)| **v != Value::Null)
            .collect();
        assert_eq!(props.len(), params.len(), "{x:#}");
        for (name, value) in params {
            assert!(
                same(&props[name], value),
                "`{name}` of `{}`: {} vs {value}",
                e.step_name,
                props[name]
            );
        }
        assert_eq!(x["custom_properties"]["step_name"], e.step_name.as_str());
        assert_eq!(
            x["custom_properties"]["cache_key"],
            e.cache_key.unwrap().to_hex().as_str()
        );
        if e.state == ExecutionState::Cached {
            assert_eq!(
                x["custom_properties"]["cached_from"],
                e.cached_from.unwrap()
            );
        }
        assert_eq!(
            ids(&x["context_ids"]),
            BTreeSet::from([e.run_id.unwrap(), *pipeline_id])
        );

        // Its inputs and outputs, as events.
        for (kind, named) in [("INPUT", &e.inputs), ("OUTPUT", &e.outputs)] {
            let mut seen: Vec<(String, Id)> = events
                .as_array()
                .unwrap()
                .iter()
                .filter(|ev| ev["execution_id"] == e.id && ev["type"] == kind)
                .flat_map(|ev| {
                    let artifact = ev["artifact_id"].as_i64().unwrap();
                    ev["path"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(move |p| (p.as_str().unwrap().to_owned(), artifact))
                })
                .collect();
            seen.sort();
            assert_eq!(&seen, named, "{kind} events of `{}`", e.step_name);
            artifact_ids.extend(named.iter().map(|(_, a)| *a));
        }
    }
    let trainer_b = recorded
        .iter()
        .find(|(p, e)| *p == third.run.pipeline_id && e.step_name == "trainer")
        .unwrap();
    let x = find(&json["executions"], "id", &Json::from(trainer_b.1.id));
    assert_eq!(x["properties"]["shrink"], 0.5);
    assert_eq!(x["properties"]["label"], "species");

    // The artifacts, with their URIs and hashes.
    assert!(!artifact_ids.is_empty());
    for id in artifact_ids {
        let record = md.artifact(id).unwrap();
        let x = find(&json["artifacts"], "id", &Json::from(id));
        assert_eq!(x["uri"], record.uri.as_str());
        assert!(record.uri.starts_with("file://"), "{}", record.uri);
        assert_eq!(x["state"], "LIVE");
        assert_eq!(x["type"], record.type_name.as_str());
        assert_eq!(x["properties"]["hash"], record.hash.to_hex().as_str());
        assert_eq!(x["properties"]["size"], record.size);
        assert_eq!(
            x["properties"]["materializer"],
            record.materializer.as_str()
        );
        assert!(artifact_file(r.root(), &record).is_file());
    }
}
