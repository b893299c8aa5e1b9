//! The frameworks stay out of the default build: without the `candle` and `linfa` features,
//! nothing of candle or linfa is a (normal) dependency of the facade, so a default build never
//! compiles them. Asked of `cargo tree`, offline, on the workspace's lock file.

use std::process::Command;

/// The packages `cargo tree -e normal` lists for the facade with `features` (`""`: the defaults).
fn normal_dependencies(features: &str) -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "tree",
        "--offline",
        "--locked",
        "-p",
        "zenml",
        "-e",
        "normal",
        "--prefix",
        "none",
    ]);
    if !features.is_empty() {
        cmd.args(["--features", features]);
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn framework(name: &str) -> bool {
    name.starts_with("candle") || name.starts_with("linfa") || name == "safetensors"
}

#[test]
fn the_default_build_compiles_neither_candle_nor_linfa() {
    let default: Vec<String> = normal_dependencies("")
        .into_iter()
        .filter(|n| framework(n))
        .collect();
    assert_eq!(default, Vec::<String>::new());

    // The features bring them in, and only their own.
    let candle = normal_dependencies("candle");
    assert!(candle.iter().any(|n| n == "candle-core"), "{candle:?}");
    assert!(!candle.iter().any(|n| n.starts_with("linfa")), "{candle:?}");
    // The CPU only: no GPU or vendor BLAS backend.
    assert!(
        !candle
            .iter()
            .any(|n| n.contains("cudarc") || n.contains("metal") || n.contains("mkl")),
        "{candle:?}"
    );
    let linfa = normal_dependencies("linfa");
    assert!(linfa.iter().any(|n| n == "linfa-trees"), "{linfa:?}");
    assert!(!linfa.iter().any(|n| n.starts_with("candle")), "{linfa:?}");
}
