//! Generated code names everything by absolute path: a module that shadows the prelude's names
//! with types of its own still compiles with `#[step]` and `#[derive(StepParam)]`.

#![allow(dead_code, non_camel_case_types)]

pub mod shadowed {
    use ::zenml::prelude::{IoSpec, Outputs, Step, StepContext, StepParam, StepResult, step};

    struct Result;
    struct Option;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct String;
    struct Vec;
    struct Box;
    struct Default;
    struct Clone;
    struct Params;
    struct Value;
    struct zenml;
    struct core;
    struct std;
    struct str;
    struct u32;
    struct u128;

    #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, StepParam)]
    pub enum Mode {
        Fast,
        Exact,
    }

    /// A step in a module that shadows the usual names.
    #[step(version = 4)]
    #[derive(::core::fmt::Debug)]
    pub struct Shadowed {
        #[param(default = 3)]
        pub count: i64,
        #[param(default = "text")]
        pub text: ::std::string::String,
        pub maybe: ::core::option::Option<i32>,
        #[param(default = 2)]
        pub wrapped: ::std::option::Option<u8>,
        #[param(default = Mode::Exact)]
        pub mode: Mode,
    }

    #[step]
    impl Step for Shadowed {
        fn inputs(&self) -> ::std::vec::Vec<IoSpec> {
            ::std::vec::Vec::new()
        }
        fn outputs(&self) -> ::std::vec::Vec<IoSpec> {
            ::std::vec::Vec::new()
        }
        fn run(
            &self,
            _ctx: &mut StepContext,
            _inputs: &::zenml::artifact::Inputs,
        ) -> StepResult<Outputs> {
            ::core::result::Result::Ok(Outputs::new())
        }
    }
}

#[test]
fn shadowed_names_do_not_reach_generated_code() {
    use ::zenml::step::StepParams;
    let step = <shadowed::Shadowed as Default>::default();
    assert_eq!(step.count, 3);
    assert_eq!(step.text, "text");
    assert_eq!(step.maybe, None);
    assert_eq!(step.wrapped, Some(2));
    assert!(matches!(step.mode, shadowed::Mode::Exact));
    let params = step.params();
    let rebuilt = shadowed::Shadowed::from_params(&params).expect("from_params");
    assert_eq!(rebuilt.params(), params);
    let registry = ::zenml::registry::Registry::global().expect("registry");
    assert!(
        registry
            .get_version("hygiene::shadowed::Shadowed", 4)
            .is_ok()
    );
}
