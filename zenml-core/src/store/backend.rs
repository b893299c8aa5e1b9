//! For authors of metadata store backends: the rules every backend applies the same way, so that
//! backends agree (the conformance suite checks that they do).
//!
//! A backend declares a step type's parameters with [`declared_params`], registers a step type
//! again only as [`check_step_type_change`] allows, keeps an execution's parameter values as
//! [`stored_params`] gives them, and an execution's inputs and outputs as [`sorted_by_name`]
//! gives them.

use std::collections::BTreeMap;

use crate::param::Params;
use crate::param::Value;

use super::{Conflict, MetadataError, PropertyType, StepTypeSpec};
use crate::step::StepKind;

/// The declared property of each parameter of `spec`, by name: ML Metadata's property type of
/// the parameter's type ([`PropertyType::of`]). A parameter declared twice with two types is
/// [`Conflict::DuplicateParameter`].
pub fn declared_params(spec: &StepTypeSpec) -> Result<BTreeMap<String, PropertyType>, Conflict> {
    let mut declared = BTreeMap::new();
    for (name, ty) in &spec.params {
        let ty = PropertyType::of(*ty);
        if declared
            .insert(name.clone(), ty)
            .is_some_and(|old| old != ty)
        {
            return Err(Conflict::DuplicateParameter {
                step_type: spec.source.clone(),
                param: name.clone(),
            });
        }
    }
    Ok(declared)
}

/// Checks that `spec` (its parameters `declared` by [`declared_params`]) may be registered again
/// over the step type recorded as `recorded_kind` (`None`: an execution type zenml did not make)
/// with the parameters `recorded` gives: the same kind, and each parameter both have of one type.
/// Parameters may be added. The conflict names the first difference.
pub fn check_step_type_change(
    spec: &StepTypeSpec,
    declared: &BTreeMap<String, PropertyType>,
    recorded_kind: Option<StepKind>,
    recorded: impl Fn(&str) -> Option<PropertyType>,
) -> Result<(), Conflict> {
    let changed = |what: String, recorded: String, given: String| Conflict::StepTypeChanged {
        step_type: spec.source.clone(),
        version: spec.version,
        what,
        recorded,
        given,
    };
    if recorded_kind != Some(spec.kind) {
        return Err(changed(
            "its kind".to_owned(),
            recorded_kind.map_or("foreign", StepKind::as_str).to_owned(),
            spec.kind.to_string(),
        ));
    }
    for (name, new) in declared {
        if let Some(old) = recorded(name).filter(|old| old != new) {
            return Err(changed(
                format!("parameter `{name}`"),
                old.to_string(),
                new.to_string(),
            ));
        }
    }
    Ok(())
}

/// The parameter values of an execution as every store keeps them: sorted by name, `Null`s left
/// out, each checked against the step type's declaration (`declared` gives a parameter's
/// declared type). An undeclared parameter is [`Conflict::UndeclaredParameter`], a value of
/// another kind than declared [`Conflict::ParameterType`].
pub fn stored_params(
    step_type: &str,
    params: &Params,
    declared: impl Fn(&str) -> Option<PropertyType>,
) -> Result<Vec<(String, Value)>, MetadataError> {
    let mut out = Vec::with_capacity(params.len());
    for (name, value) in params {
        let Some(ty) = declared(name) else {
            return Err(Conflict::UndeclaredParameter {
                step_type: step_type.to_owned(),
                param: name.to_owned(),
            }
            .into());
        };
        match ty.stored_value(value) {
            Ok(Some(v)) => out.push((name.to_owned(), v)),
            Ok(None) => {}
            Err(()) => {
                return Err(Conflict::ParameterType {
                    step_type: step_type.to_owned(),
                    param: name.to_owned(),
                    declared: ty,
                    value: format!("{} {value}", value.kind_name()),
                }
                .into());
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Named entries (an execution's inputs or outputs) sorted by name, as every store keeps them;
/// two entries of one name are [`Conflict::DuplicateName`] (`what` names the entries:
/// `"input"`).
pub fn sorted_by_name<T: Clone>(
    entries: &[(String, T)],
    what: &'static str,
) -> Result<Vec<(String, T)>, Conflict> {
    let mut sorted = entries.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Conflict::DuplicateName {
            what,
            name: w[0].0.clone(),
        });
    }
    Ok(sorted)
}
