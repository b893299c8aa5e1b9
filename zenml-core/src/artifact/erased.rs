//! Artifact values with their types erased, as the runtime moves them between steps.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use super::{Artifact, BaseType, MaterializeError, Materializer};

/// A type-erased artifact value.
pub type AnyValue = Arc<dyn Any + Send + Sync>;

/// How a materializer of files reads a value from a local file holding its bytes
/// ([`ArtifactKind::file_reader`]).
pub type FileReader = fn(&mut std::fs::File) -> Result<AnyValue, MaterializeError>;

/// Everything the runtime needs to know about an artifact type without naming it: its identity,
/// its materializer, and how to write and read a value of it.
#[derive(Clone, Copy)]
pub struct ArtifactKind {
    type_id: fn() -> TypeId,
    type_name: fn() -> Cow<'static, str>,
    base_type: fn() -> Option<BaseType>,
    materializer: &'static str,
    materializer_version: u32,
    write: fn(&(dyn Any + Send + Sync), &mut dyn Write) -> Result<(), MaterializeError>,
    read: fn(&mut dyn Read) -> Result<AnyValue, MaterializeError>,
    source_file: for<'a> fn(&'a (dyn Any + Send + Sync)) -> Option<&'a std::path::Path>,
    read_file: Option<FileReader>,
}

impl ArtifactKind {
    /// The kind of `T`.
    pub fn of<T: Artifact>() -> Self {
        fn write<T: Artifact>(
            value: &(dyn Any + Send + Sync),
            w: &mut dyn Write,
        ) -> Result<(), MaterializeError> {
            match value.downcast_ref::<T>() {
                Some(v) => T::Materializer::write(v, w),
                None => Err(MaterializeError::codec(
                    T::Materializer::ID,
                    format!(
                        "internal error: value is not a {}",
                        std::any::type_name::<T>()
                    ),
                )),
            }
        }
        fn read<T: Artifact>(r: &mut dyn Read) -> Result<AnyValue, MaterializeError> {
            Ok(Arc::new(T::Materializer::read(r)?))
        }
        fn source_file<T: Artifact>(value: &(dyn Any + Send + Sync)) -> Option<&std::path::Path> {
            T::Materializer::source_file(value.downcast_ref::<T>()?)
        }
        fn read_file<T: Artifact>(file: &mut std::fs::File) -> Result<AnyValue, MaterializeError> {
            Ok(Arc::new(T::Materializer::read_file(file)?))
        }
        ArtifactKind {
            type_id: TypeId::of::<T>,
            type_name: T::type_name,
            base_type: T::base_type,
            materializer: T::Materializer::ID,
            materializer_version: T::Materializer::VERSION,
            write: write::<T>,
            read: read::<T>,
            source_file: source_file::<T>,
            read_file: T::Materializer::READS_FILES.then_some(read_file::<T>),
        }
    }

    /// The Rust type's id.
    pub fn type_id(&self) -> TypeId {
        (self.type_id)()
    }

    /// The artifact type's name (the ML Metadata `ArtifactType`).
    pub fn type_name(&self) -> Cow<'static, str> {
        (self.type_name)()
    }

    /// The ML Metadata base type, if any.
    pub fn base_type(&self) -> Option<BaseType> {
        (self.base_type)()
    }

    /// The materializer's identity.
    pub fn materializer(&self) -> &'static str {
        self.materializer
    }

    /// The materializer's version.
    pub fn materializer_version(&self) -> u32 {
        self.materializer_version
    }

    /// `"<id>@<version>"`, as recorded on artifacts.
    pub fn materializer_tag(&self) -> String {
        format!("{}@{}", self.materializer, self.materializer_version)
    }

    /// Writes `value`, which must be of this kind's type.
    pub fn write(
        &self,
        value: &(dyn Any + Send + Sync),
        w: &mut dyn Write,
    ) -> Result<(), MaterializeError> {
        (self.write)(value, w)
    }

    /// Reads a value of this kind's type.
    pub fn read(&self, r: &mut dyn Read) -> Result<AnyValue, MaterializeError> {
        (self.read)(r)
    }

    /// The file holding `value`'s bytes verbatim, if its materializer says there is one
    /// ([`Materializer::source_file`]).
    pub fn source_file<'a>(
        &self,
        value: &'a (dyn Any + Send + Sync),
    ) -> Option<&'a std::path::Path> {
        (self.source_file)(value)
    }

    /// How to read a value of this kind's type from a local file holding its bytes, if its
    /// materializer does better with a file than with a stream ([`Materializer::READS_FILES`]).
    pub fn file_reader(&self) -> Option<FileReader> {
        self.read_file
    }

    /// Do the two kinds name the same Rust type?
    pub fn same_type(&self, other: &ArtifactKind) -> bool {
        self.type_id() == other.type_id()
    }
}

impl fmt::Debug for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactKind")
            .field("type", &self.type_name())
            .field("materializer", &self.materializer_tag())
            .finish()
    }
}

/// The input values a step receives, by input name.
#[derive(Default)]
pub struct Inputs {
    values: BTreeMap<String, AnyValue>,
}

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

/// An input that is missing or of another type than asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// No input of that name.
    #[error("no input named `{0}`")]
    Missing(String),
    /// The input holds another type.
    #[error("input `{name}` is not a `{expected}`")]
    WrongType {
        /// The input.
        name: String,
        /// The type asked for.
        expected: &'static str,
    },
}

impl Inputs {
    /// No inputs.
    pub fn new() -> Self {
        Inputs::default()
    }

    /// Adds an input value.
    pub fn insert(&mut self, name: impl Into<String>, value: AnyValue) {
        self.values.insert(name.into(), value);
    }

    /// The input `name` as a `T`.
    pub fn get<T: Artifact>(&self, name: &str) -> Result<&T, InputError> {
        let v = self
            .values
            .get(name)
            .ok_or_else(|| InputError::Missing(name.to_owned()))?;
        v.downcast_ref::<T>().ok_or_else(|| InputError::WrongType {
            name: name.to_owned(),
            expected: std::any::type_name::<T>(),
        })
    }

    /// The input `name`, type-erased.
    pub fn get_any(&self, name: &str) -> Option<&AnyValue> {
        self.values.get(name)
    }

    /// The input names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// The output values a step produced, by output name.
#[derive(Default)]
pub struct Outputs {
    values: BTreeMap<String, AnyValue>,
}

impl fmt::Debug for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Outputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Outputs::default()
    }

    /// Sets the output `name`.
    pub fn put<T: Artifact>(&mut self, name: impl Into<String>, value: T) {
        self.values.insert(name.into(), Arc::new(value));
    }

    /// Builder form of [`Outputs::put`].
    #[must_use]
    pub fn with<T: Artifact>(mut self, name: impl Into<String>, value: T) -> Self {
        self.put(name, value);
        self
    }

    /// Sets the output `name` to a type-erased value.
    pub fn put_any(&mut self, name: impl Into<String>, value: AnyValue) {
        self.values.insert(name.into(), value);
    }

    /// Removes and returns the output `name`.
    pub fn take(&mut self, name: &str) -> Option<AnyValue> {
        self.values.remove(name)
    }

    /// The output names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}
