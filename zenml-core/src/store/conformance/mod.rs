//! The conformance suite every store backend runs (feature `conformance`).
//!
//! Each function takes a way to make a fresh, empty store and panics with a message on the first
//! behaviour that differs from the contract of the store traits. A backend's tests call every
//! function (see `zenml-stores`), as third-party backends can.

pub mod artifact;
pub mod metadata;
pub mod mlmd;

/// The environment variable that marks a continuous-integration run: there, a test that cannot
/// run fails instead of skipping, so that a green run means nothing was skipped.
pub const CI_VAR: &str = "CI";

/// Skips the calling test, printing `why` — or fails it when [`CI_VAR`] is set.
///
/// ```no_run
/// # let reader: Result<(), String> = Err("no reader".into());
/// if let Err(why) = reader {
///     zenml_core::store::conformance::skip("ml_metadata_reads_the_store", &why);
///     return;
/// }
/// ```
#[track_caller]
pub fn skip(test: &str, why: &str) {
    if std::env::var_os(CI_VAR).is_some_and(|v| !v.is_empty()) {
        panic!("{test} cannot run here, and {CI_VAR} is set, so it may not skip: {why}");
    }
    println!("SKIPPED {test}: {why}");
}
