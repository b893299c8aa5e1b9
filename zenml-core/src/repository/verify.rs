//! Checking every stored artifact against its hash: a scrub of the artifact store.

use std::collections::{HashMap, HashSet};

use crate::artifact::io::{ArtifactError, Damage, Repair};
use crate::hash::Hash128;
use crate::store::{ArtifactRecord, ExecutionRecord, Id};

use super::{Repository, RepositoryError};

/// How many artifact records are read from the metadata store at a time.
const PAGE: usize = 512;

/// An artifact whose stored bytes are damaged, found by [`Repository::verify_artifacts`].
#[derive(Clone, Debug, PartialEq)]
pub struct DamagedArtifact {
    /// The artifact.
    pub artifact: ArtifactRecord,
    /// The execution that produced it (its step, and the run it belongs to), if recorded.
    pub producer: Option<ExecutionRecord>,
    /// What is wrong.
    pub damage: Damage,
    /// What was done, when repairing: every artifact with the same bytes shares one object, so
    /// one repair serves them all.
    pub repair: Option<Repair>,
}

/// What [`Repository::verify_artifacts`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifyReport {
    /// How many artifacts are recorded.
    pub artifacts: u64,
    /// How many distinct stored objects were checked (identical outputs share one).
    pub objects: u64,
    /// How many bytes were read and hashed.
    pub bytes: u64,
    /// The damaged artifacts, by id.
    pub damaged: Vec<DamagedArtifact>,
}

/// How far [`Repository::verify_artifacts`] has come, reported after each object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyProgress {
    /// Artifacts looked at so far.
    pub artifacts: u64,
    /// Distinct objects checked so far.
    pub objects: u64,
    /// Bytes read so far.
    pub bytes: u64,
    /// Damaged objects found so far.
    pub damaged: u64,
}

impl Repository {
    /// Checks every recorded artifact's stored bytes against its hash, reading each distinct
    /// object once, a page of records at a time and streaming every object (memory does not grow
    /// with the artifacts' sizes). Finds what the cheap check of a cache hit cannot see (bytes
    /// altered with their modification time put back), and objects missing or replaced by
    /// something else.
    ///
    /// With `repair`, each damaged object is removed (what stands in place of one is moved aside),
    /// so that nothing can reuse it and the step that produced it is computed again the next
    /// time its pipeline runs. `progress` is called after each object.
    pub fn verify_artifacts(
        &self,
        repair: bool,
        mut progress: impl FnMut(VerifyProgress),
    ) -> Result<VerifyReport, RepositoryError> {
        let content = self.content();
        let mut report = VerifyReport::default();
        // The damage of each damaged object, and every object checked (16 bytes each).
        let mut found: HashMap<Hash128, (Damage, Option<Repair>)> = HashMap::new();
        let mut checked: HashSet<Hash128> = HashSet::new();
        let mut after: Id = 0;
        loop {
            let page = self.metadata.artifacts(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for record in page {
                report.artifacts += 1;
                if checked.insert(record.hash) {
                    report.objects += 1;
                    match content.verify(&record) {
                        Ok(()) => report.bytes += record.size,
                        Err(ArtifactError::Damaged { damage, .. }) => {
                            let repaired = if repair {
                                Some(content.repair(record.hash, &damage)?)
                            } else {
                                None
                            };
                            found.insert(record.hash, (damage, repaired));
                        }
                        Err(e) => return Err(e.into()),
                    }
                    progress(VerifyProgress {
                        artifacts: report.artifacts,
                        objects: report.objects,
                        bytes: report.bytes,
                        damaged: found.len() as u64,
                    });
                }
                if let Some((damage, repaired)) = found.get(&record.hash) {
                    let producer = self.metadata.artifact_producer(record.id)?;
                    report.damaged.push(DamagedArtifact {
                        producer,
                        damage: damage.clone(),
                        repair: repaired.clone(),
                        artifact: record,
                    });
                }
            }
        }
        Ok(report)
    }
}
