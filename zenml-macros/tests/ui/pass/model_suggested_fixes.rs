// The fixes the note of `fail/model_not_artifact.rs` suggests, written with exactly the paths it
// names: `zenml::Json<_>`, and `zenml::Artifact` with a materializer of its own. The serde derive
// goes through the facade's re-export, as a crate without a `serde` dependency of its own writes it.
use std::io::{Read, Write};

use zenml::artifact::{MaterializeError, Materializer};
use zenml::prelude::*;

#[derive(zenml::serde::Serialize, zenml::serde::Deserialize)]
#[serde(crate = "zenml::serde")]
pub struct Weights {
    pub w: Vec<f64>,
}

#[step]
pub struct JsonTrainer {}

#[step]
impl TrainerStep for JsonTrainer {
    type Model = zenml::Json<Weights>;
    fn train(&self, _: &mut StepContext, _: &Table, _: &Table) -> StepResult<Self::Model> {
        Ok(zenml::Json(Weights { w: Vec::new() }))
    }
}

/// Stored as little-endian floats.
pub struct RawWeights {
    pub w: Vec<f64>,
}

pub struct RawMaterializer;

impl Materializer for RawMaterializer {
    type Value = RawWeights;
    const ID: &'static str = "example.raw_weights";
    const VERSION: u32 = 1;

    fn write(value: &RawWeights, w: &mut dyn Write) -> Result<(), MaterializeError> {
        for x in &value.w {
            w.write_all(&x.to_le_bytes())?;
        }
        Ok(())
    }

    fn read(r: &mut dyn Read) -> Result<RawWeights, MaterializeError> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)?;
        let w = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        Ok(RawWeights { w })
    }
}

impl zenml::Artifact for RawWeights {
    type Materializer = RawMaterializer;
}

#[step]
pub struct RawTrainer {}

#[step]
impl TrainerStep for RawTrainer {
    type Model = RawWeights;
    fn train(&self, _: &mut StepContext, _: &Table, _: &Table) -> StepResult<RawWeights> {
        Ok(RawWeights { w: Vec::new() })
    }
}

fn main() {}
