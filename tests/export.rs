//! Kubernetes on paper: `pipeline export` as Jobs and as an Argo Workflow, pinned by golden
//! files (`tests/golden/`; `ZENML_BLESS=1` rewrites them after a deliberate change).

mod common;
#[path = "common/process.rs"]
mod process;

use std::path::PathBuf;

use process::*;
use zenml::orchestrator::KubernetesExport;
use zenml::prelude::*;

/// A DAG of zenml's own steps (a fan-out and a fan-in), one asking for resources and retries.
fn config() -> String {
    built_in_config(
        "Iris on Kubernetes",
        "  scale_data:
    source: zenml_core::steps::StandardScaler@1
    args: { exclude: species }
    inputs: { train: split.train, eval: split.eval }
    resources: { cpus: 2, memory_mb: 1024, gpus: 1, time_limit_s: 600, retries: 1, backoff_ms: 30000 }
",
    )
}

fn golden(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(name);
    if std::env::var_os("ZENML_BLESS").is_some() {
        std::fs::write(&path, text).expect("the golden file is written");
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (ZENML_BLESS=1 writes it)", path.display()));
    assert!(
        text == expected,
        "{} differs (ZENML_BLESS=1 rewrites it after a deliberate change):\n{text}",
        path.display()
    );
}

fn export() -> KubernetesExport {
    KubernetesExport::new("registry.example.com/iris:1.0")
        .with_command(["/app/quickstart", "zenml"])
        .with_repository_dir("/zenml")
}

#[test]
fn a_pipeline_exports_as_a_job_per_step() {
    let pipeline = Pipeline::from_yaml(&config()).unwrap();
    let yaml = export().jobs(&pipeline, "Iris on Kubernetes#1").unwrap();
    assert_eq!(yaml.matches("kind: Job\n").count(), 3);
    for step in ["load", "split", "scale_data"] {
        assert!(
            yaml.contains(&format!(
                "        - --run\n        - Iris on Kubernetes#1\n        - --step\n        - {step}\n"
            )),
            "{yaml}"
        );
    }
    golden("k8s-jobs.yaml", &yaml);
}

#[test]
fn a_pipeline_exports_as_an_argo_workflow() {
    let pipeline = Pipeline::from_yaml(&config()).unwrap();
    let yaml = export().argo(&pipeline).unwrap();
    assert_eq!(yaml.matches("kind: Workflow\n").count(), 1);
    // The fan-in waits for both of its producers' task and the run's record.
    assert!(
        yaml.contains(
            "dependencies:\n        - record\n        - split\n        name: scale-data\n"
        ),
        "{yaml}"
    );
    golden("argo.yaml", &yaml);
}

#[test]
fn the_command_line_writes_the_same_manifests() {
    let dir = workspace();
    std::fs::write(dir.path().join("k8s.yaml"), config()).unwrap();
    let pipeline = Pipeline::from_yaml(&config()).unwrap();
    let common = [
        "--image",
        "registry.example.com/iris:1.0",
        "--command",
        "/app/quickstart",
        "--command",
        "zenml",
    ];
    let mut args = vec!["pipeline", "export", "k8s.yaml", "--format", "argo"];
    args.extend(common);
    let argo = zenml(dir.path(), &args).ok();
    assert_eq!(argo.stdout, export().argo(&pipeline).unwrap());

    let mut args = vec!["pipeline", "export", "k8s.yaml", "--format", "k8s-jobs"];
    args.extend(common);
    let missing = zenml(dir.path(), &args);
    assert_eq!(
        missing.code,
        Some(2),
        "the Jobs need a recorded run: {missing:#?}"
    );
    args.extend(["--run", "Iris on Kubernetes#1"]);
    let jobs = zenml(dir.path(), &args).ok();
    assert_eq!(
        jobs.stdout,
        export().jobs(&pipeline, "Iris on Kubernetes#1").unwrap()
    );
}
