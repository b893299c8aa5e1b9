//! The compile errors of `#[step]` and `#[derive(StepParam)]`, pinned as `.stderr` snapshots.
//!
//! rustc's wording changes between releases, so the snapshots are checked only on the release
//! they were made with; on any other compiler this test says so and passes without checking
//! (and fails when `CI` is set: CI runs the pinned release).
//! Regenerate them with `TRYBUILD=overwrite cargo test -p zenml-macros --test compile_errors` on
//! that release, and read every changed `.stderr` before accepting it.
//!
//! They live in this crate, not the facade's tests, so that the cases are built against the
//! facade with its default features whatever features the test run enables: rustc's hints list
//! the types that implement a trait, and the ready steps of the optional features would add
//! theirs.

use std::process::Command;

/// The rustc release the snapshots were made with.
const PINNED: &str = "1.95.";

#[test]
fn ui() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .unwrap_or_default();
    let Some(release) = version.strip_prefix("rustc ") else {
        let why = format!("cannot run `{rustc:?} --version`");
        zenml_core::store::conformance::skip("ui", &why);
        return;
    };
    if !release.starts_with(PINNED) {
        let why = format!(
            "the snapshots are made with rustc {PINNED}x and this is rustc {}",
            release.trim()
        );
        zenml_core::store::conformance::skip("ui", &why);
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
