// `#[step(crate = "…")]` names the path to the facade (or to zenml-core) when it is not `::zenml`,
// as in a crate that re-exports zenml under another name.
mod reexport {
    pub use zenml as engine;
}

use zenml::prelude::*;

#[step(crate = "crate::reexport::engine")]
pub struct Scale {
    #[param(default = 2.0)]
    pub factor: f64,
}

#[step(crate = crate::reexport::engine)]
impl Step for Scale {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn run(&self, _: &mut StepContext, _: &Inputs) -> StepResult<Outputs> {
        Ok(Outputs::new())
    }
}

#[derive(Clone, Copy, StepParam)]
#[step_param(crate = "crate::reexport::engine")]
pub enum Mode {
    Fast,
    Exact,
}

fn main() {
    use zenml::__private::StepParams;
    assert_eq!(Scale::default().factor, 2.0);
    assert_eq!(Scale::PARAM_SPECS.len(), 1);
    let _ = Mode::Exact;
}
