//! Step parameters: the typed values a step's fields hold.
//!
//! A step's hyper-parameters are the fields of its struct. Only a closed set of types can be a
//! parameter, because every value must round-trip exactly through a YAML config, an ML Metadata
//! property column and a cache key:
//!
//! | Rust type | [`Value`] | notes |
//! |---|---|---|
//! | `bool` | `Bool` | |
//! | `i8` `i16` `i32` `i64` `u8` `u16` `u32` | `Int` | range-checked when read back |
//! | `f32` `f64` | `Float` | `f32` widens exactly to `f64` |
//! | `String` | `Str` | |
//! | a unit-only enum with `#[derive(StepParam)]` | `Str` | the variant's name exactly as written in Rust (`Adam`, not `adam`), or in snake case with `#[step_param(rename_all = "snake_case")]` |
//! | `Option<T>` of any of the above | `Null` or `T`'s value | `Option<Option<T>>` is not allowed |
//!
//! `u64`, `usize` and `i128` are not parameters: ML Metadata's integer column is a signed 64-bit
//! integer (32-bit on MySQL), so they could not round-trip. Collections, references, boxes and user
//! structs are not parameters either: a parameter is one scalar that a person can read in a config.
//!
//! # Canonical encoding
//!
//! [`Params::canonical_bytes`] is the encoding that enters a step's cache key. It is independent
//! of field order and of how a config was formatted, and it never confuses `1` with `1.0`:
//!
//! ```text
//! b"zenml.params"  0x01 (encoding version)
//! u32 LE           number of parameters
//! per parameter, sorted by name (byte order):
//!   u32 LE + bytes   the name, UTF-8
//!   u8               type tag: 0 null, 1 bool, 2 int, 3 float, 4 string
//!   payload          bool: 1 byte (0/1); int: i64 LE; float: the f64 bit pattern as u64 LE, every
//!                    NaN written as 0x7ff8_0000_0000_0000 (`-0.0` and `0.0` stay distinct);
//!                    string: u32 LE length + UTF-8 bytes; null: nothing
//! ```

use std::borrow::Cow;
use std::fmt;

/// A parameter value as configs, the metadata store and cache keys see it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// An empty `Option` (`null` in a config).
    Null,
    /// A `bool`.
    Bool(bool),
    /// Any of the integer parameter types, widened to `i64`.
    Int(i64),
    /// `f32` or `f64`, widened to `f64`.
    Float(f64),
    /// A `String`, or an enum's variant name.
    Str(String),
}

impl Value {
    /// A short name of the value's kind, as used in error messages (`"int"`, `"string"`, …).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
        }
    }

    /// Is this `Value::Null`?
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => {
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Str(v) => s.serialize_str(v),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a parameter value: null, a bool, a number or a string")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
                Ok(Value::Int(i))
            }
            fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Value, E> {
                i64::try_from(u).map(Value::Int).map_err(|_| {
                    E::custom(format!(
                        "{u} is out of range: parameters hold integers up to {}",
                        i64::MAX
                    ))
                })
            }
            fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
                Ok(Value::Float(x))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::Str(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
                Err(serde::de::Error::custom(
                    "a parameter is a single value, not a list",
                ))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
                Err(serde::de::Error::custom(
                    "a parameter is a single value, not a mapping",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

/// The scalar part of a parameter's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScalarType {
    /// `bool`
    Bool,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `String`
    String,
    /// A unit-only enum that derives `StepParam`.
    Enum(&'static EnumSpec),
}

impl ScalarType {
    /// The inclusive range of an integer type, `None` for the others.
    pub fn int_range(self) -> Option<(i64, i64)> {
        Some(match self {
            ScalarType::I8 => (i8::MIN.into(), i8::MAX.into()),
            ScalarType::I16 => (i16::MIN.into(), i16::MAX.into()),
            ScalarType::I32 => (i32::MIN.into(), i32::MAX.into()),
            ScalarType::I64 => (i64::MIN, i64::MAX),
            ScalarType::U8 => (0, u8::MAX.into()),
            ScalarType::U16 => (0, u16::MAX.into()),
            ScalarType::U32 => (0, u32::MAX.into()),
            _ => return None,
        })
    }

    /// Is this `f32` or `f64`?
    pub fn is_float(self) -> bool {
        matches!(self, ScalarType::F32 | ScalarType::F64)
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScalarType::Bool => "bool",
            ScalarType::I8 => "i8",
            ScalarType::I16 => "i16",
            ScalarType::I32 => "i32",
            ScalarType::I64 => "i64",
            ScalarType::U8 => "u8",
            ScalarType::U16 => "u16",
            ScalarType::U32 => "u32",
            ScalarType::F32 => "f32",
            ScalarType::F64 => "f64",
            ScalarType::String => "String",
            ScalarType::Enum(spec) => spec.name,
        })
    }
}

/// The name and variants of a unit-only enum parameter type.
#[derive(Debug, PartialEq, Eq)]
pub struct EnumSpec {
    /// The enum's name, as written in Rust.
    pub name: &'static str,
    /// Its variants' names, in declaration order; these are the stored values.
    pub variants: &'static [&'static str],
}

/// The full type of a parameter: a scalar, possibly inside an `Option`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamType {
    /// The scalar type.
    pub scalar: ScalarType,
    /// `true` for `Option<scalar>`.
    pub nullable: bool,
}

impl ParamType {
    /// A non-nullable parameter type.
    pub const fn scalar(scalar: ScalarType) -> Self {
        ParamType {
            scalar,
            nullable: false,
        }
    }

    /// Checks that `value` fits this type, without building a Rust value.
    pub fn check(&self, value: &Value) -> Result<(), ValueError> {
        let fail = |reason| ValueError {
            expected: *self,
            found: value.clone(),
            reason,
        };
        match (self.scalar, value) {
            (_, Value::Null) if self.nullable => Ok(()),
            (_, Value::Null) => Err(fail(ValueErrorReason::Null)),
            (ScalarType::Bool, Value::Bool(_)) => Ok(()),
            (ScalarType::String, Value::Str(_)) => Ok(()),
            (ScalarType::Enum(spec), Value::Str(s)) => {
                if spec.variants.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(fail(ValueErrorReason::UnknownVariant))
                }
            }
            (ScalarType::F64, Value::Float(_)) => Ok(()),
            (ScalarType::F32, Value::Float(x)) => {
                if !x.is_finite() || x.abs() <= f64::from(f32::MAX) {
                    Ok(())
                } else {
                    Err(fail(ValueErrorReason::OutOfRange))
                }
            }
            (s, Value::Int(i)) if s.is_float() => {
                if i.unsigned_abs() <= 1 << 53 {
                    Ok(())
                } else {
                    Err(fail(ValueErrorReason::OutOfRange))
                }
            }
            (s, Value::Int(i)) => match s.int_range() {
                Some((lo, hi)) if (lo..=hi).contains(i) => Ok(()),
                Some(_) => Err(fail(ValueErrorReason::OutOfRange)),
                None => Err(fail(ValueErrorReason::WrongType)),
            },
            _ => Err(fail(ValueErrorReason::WrongType)),
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nullable {
            write!(f, "Option<{}>", self.scalar)
        } else {
            write!(f, "{}", self.scalar)
        }
    }
}

/// Why a [`Value`] does not fit a [`ParamType`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueErrorReason {
    /// The value has another kind (a string for an integer, say).
    WrongType,
    /// An integer or float outside the type's range.
    OutOfRange,
    /// `null` for a type that is not an `Option`.
    Null,
    /// A string that is none of the enum's variants.
    UnknownVariant,
}

/// A [`Value`] that does not fit the parameter type it was given to.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ValueError {
    /// The parameter's type.
    pub expected: ParamType,
    /// The value given.
    pub found: Value,
    /// What is wrong with it.
    pub reason: ValueErrorReason,
}

/// A value given as error messages show it: quoted and escaped like [`Value`]'s `Display`, a
/// long string cut after as many characters as [`elide`](crate::pipeline::elide) shows.
struct Shown<'a>(&'a Value);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Str(s) => match s.char_indices().nth(crate::pipeline::SHOWN_CHARS) {
                Some((cut, _)) => {
                    let quoted = format!("{:?}", &s[..cut]);
                    let open = quoted.strip_suffix('"').unwrap_or(&quoted);
                    write!(f, "{open}…\"")
                }
                None => write!(f, "{s:?}"),
            },
            other => write!(f, "{other}"),
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = self.expected;
        let found = Shown(&self.found);
        match self.reason {
            ValueErrorReason::WrongType => write!(
                f,
                "expected {expected}, found {} {found}",
                self.found.kind_name()
            ),
            ValueErrorReason::OutOfRange => {
                write!(f, "{found} is out of range for {expected}")?;
                if let Some((lo, hi)) = expected.scalar.int_range() {
                    write!(f, " ({lo}..={hi})")?;
                }
                Ok(())
            }
            ValueErrorReason::Null => write!(
                f,
                "null is not allowed for {expected} (only an Option parameter can be null)"
            ),
            ValueErrorReason::UnknownVariant => {
                write!(f, "{found} is not a variant of {expected}")?;
                if let ScalarType::Enum(spec) = expected.scalar {
                    write!(f, "; expected one of: {}", spec.variants.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// A type that can be a step parameter.
///
/// Implemented for exactly the types listed in the [module docs](self); enums opt in with
/// `#[derive(StepParam)]`. Do not implement it by hand: the set is closed so that every parameter
/// round-trips through configs, ML Metadata and cache keys.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step parameter",
    label = "not a parameter type",
    note = "a step parameter must be one of: bool, i8, i16, i32, i64, u8, u16, u32, f32, f64, String, \
            a unit-only enum with #[derive(StepParam)], or Option<T> of one of those",
    note = "u64, usize and i128 do not fit ML Metadata's integer column; collections, references, \
            boxes and other structs are not parameters"
)]
pub trait Param: Sized + Clone + Send + Sync + 'static {
    /// The parameter's type.
    const TYPE: ParamType;
    /// This value as a [`Value`].
    fn to_value(&self) -> Value;
    /// Reads a value back, checking its kind and range.
    fn from_value(value: &Value) -> Result<Self, ValueError>;
}

/// A [`Param`] that is not an `Option`: the types an `Option` parameter may hold.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step parameter",
    label = "not a parameter type",
    note = "a step parameter must be one of: bool, i8, i16, i32, i64, u8, u16, u32, f32, f64, String, \
            a unit-only enum with #[derive(StepParam)], or Option<T> of one of those",
    note = "Option<T> needs T to be one of those scalar types; Option<Option<T>> is not allowed"
)]
pub trait ScalarParam: Param {}

fn mismatch<T: Param>(value: &Value, reason: ValueErrorReason) -> ValueError {
    ValueError {
        expected: T::TYPE,
        found: value.clone(),
        reason,
    }
}

fn check_then<T: Param>(value: &Value, f: impl FnOnce() -> Option<T>) -> Result<T, ValueError> {
    T::TYPE.check(value)?;
    f().ok_or_else(|| mismatch::<T>(value, ValueErrorReason::WrongType))
}

macro_rules! int_param {
    ($($t:ty => $s:ident),* $(,)?) => {$(
        impl Param for $t {
            const TYPE: ParamType = ParamType::scalar(ScalarType::$s);
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
            fn from_value(value: &Value) -> Result<Self, ValueError> {
                check_then(value, || match value {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                })
            }
        }
        impl ScalarParam for $t {}
    )*};
}

int_param!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32);

impl Param for bool {
    const TYPE: ParamType = ParamType::scalar(ScalarType::Bool);
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        check_then(value, || match value {
            Value::Bool(b) => Some(*b),
            _ => None,
        })
    }
}
impl ScalarParam for bool {}

impl Param for f64 {
    const TYPE: ParamType = ParamType::scalar(ScalarType::F64);
    fn to_value(&self) -> Value {
        Value::Float(*self)
    }
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        check_then(value, || match value {
            Value::Float(x) => Some(*x),
            // An integer is accepted where a float is expected (`lr: 1` in a config); check()
            // already limited it to the integers an f64 represents exactly.
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(*i as f64),
            _ => None,
        })
    }
}
impl ScalarParam for f64 {}

impl Param for f32 {
    const TYPE: ParamType = ParamType::scalar(ScalarType::F32);
    fn to_value(&self) -> Value {
        Value::Float(f64::from(*self))
    }
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        // Rounds to the nearest f32; check() rejected finite values beyond f32's range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        check_then(value, || match value {
            Value::Float(x) => Some(*x as f32),
            Value::Int(i) => Some(*i as f32),
            _ => None,
        })
    }
}
impl ScalarParam for f32 {}

impl Param for String {
    const TYPE: ParamType = ParamType::scalar(ScalarType::String);
    fn to_value(&self) -> Value {
        Value::Str(self.clone())
    }
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        check_then(value, || match value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
    }
}
impl ScalarParam for String {}

impl<T: ScalarParam> Param for Option<T> {
    const TYPE: ParamType = ParamType {
        scalar: T::TYPE.scalar,
        nullable: true,
    };
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some).map_err(|mut e| {
                e.expected = Self::TYPE;
                e
            }),
        }
    }
}

/// Support for `#[derive(StepParam)]` on unit-only enums.
///
/// The derive implements this trait; [`Param`] follows from it. Not meant to be implemented by
/// hand. The enum must also be `Clone` (`#[derive(Clone, Copy, Debug, StepParam)]`).
pub trait EnumParam: Clone + Send + Sync + 'static {
    /// The enum's name and variants.
    const SPEC: &'static EnumSpec;
    /// The variant's name.
    fn variant_name(&self) -> &'static str;
    /// The variant of that name.
    fn from_variant_name(name: &str) -> Option<Self>;
}

impl<E: EnumParam> Param for E {
    const TYPE: ParamType = ParamType::scalar(ScalarType::Enum(E::SPEC));
    fn to_value(&self) -> Value {
        Value::Str(self.variant_name().to_owned())
    }
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        check_then(value, || match value {
            Value::Str(s) => E::from_variant_name(s),
            _ => None,
        })
    }
}
impl<E: EnumParam> ScalarParam for E {}

/// The declaration of one parameter of a step type.
#[derive(Clone, Copy)]
pub struct ParamSpec {
    /// The field's name.
    pub name: &'static str,
    /// The field's type.
    pub ty: ParamType,
    /// The `#[param(default = …)]` value, or `None` for `Option` fields without one (which default
    /// to `null`) and for required fields.
    pub default: Option<fn() -> Value>,
    /// The field's doc comment, trimmed; empty when it has none.
    pub doc: &'static str,
}

impl ParamSpec {
    /// The value used when a config or a call leaves this parameter out, if it may be left out.
    pub fn default_value(&self) -> Option<Value> {
        match self.default {
            Some(f) => Some(f()),
            None if self.ty.nullable => Some(Value::Null),
            None => None,
        }
    }

    /// Must a value be given (no default, not an `Option`)?
    pub fn is_required(&self) -> bool {
        self.default.is_none() && !self.ty.nullable
    }
}

impl fmt::Debug for ParamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamSpec")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("default", &self.default.map(|d| d()))
            .field("doc", &self.doc)
            .finish()
    }
}

/// An ordered list of named parameter values: a step's parameters in declaration order, or the
/// `args` of a config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    entries: Vec<(Cow<'static, str>, Value)>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Params::default()
    }

    /// Room for `n` parameters.
    pub fn with_capacity(n: usize) -> Self {
        Params {
            entries: Vec::with_capacity(n),
        }
    }

    /// Appends a parameter, or replaces the value of one with that name.
    pub fn set(&mut self, name: impl Into<Cow<'static, str>>, value: Value) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// Builder form of [`Params::set`].
    #[must_use]
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, value: Value) -> Self {
        self.set(name, value);
        self
    }

    /// The value of the parameter `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The parameters, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v))
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_ref())
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The canonical encoding that enters cache keys (see the [module docs](self)).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut sorted: Vec<&(Cow<'static, str>, Value)> = self.entries.iter().collect();
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut out = Vec::with_capacity(16 + 24 * sorted.len());
        out.extend_from_slice(b"zenml.params");
        out.push(1);
        put_len(&mut out, sorted.len());
        for (name, value) in sorted {
            put_str(&mut out, name);
            match value {
                Value::Null => out.push(0),
                Value::Bool(b) => {
                    out.push(1);
                    out.push(u8::from(*b));
                }
                Value::Int(i) => {
                    out.push(2);
                    out.extend_from_slice(&i.to_le_bytes());
                }
                Value::Float(x) => {
                    out.push(3);
                    let bits = if x.is_nan() {
                        0x7ff8_0000_0000_0000_u64
                    } else {
                        x.to_bits()
                    };
                    out.extend_from_slice(&bits.to_le_bytes());
                }
                Value::Str(s) => {
                    out.push(4);
                    put_str(&mut out, s);
                }
            }
        }
        out
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

impl<'a> IntoIterator for &'a Params {
    type Item = (&'a str, &'a Value);
    type IntoIter = Box<dyn ExactSizeIterator<Item = (&'a str, &'a Value)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<N: Into<Cow<'static, str>>> FromIterator<(N, Value)> for Params {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(iter: I) -> Self {
        let mut p = Params::new();
        for (n, v) in iter {
            p.set(n, v);
        }
        p
    }
}

/// Parameter values that do not fit a step type's parameters.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A required parameter (no default, not an `Option`) was not given.
    #[error("missing parameter `{name}` of `{step}` ({ty}, no default)")]
    Missing {
        /// The step type's source path.
        step: &'static str,
        /// The parameter.
        name: &'static str,
        /// Its type.
        ty: ParamType,
    },
    /// A parameter the step type does not declare.
    #[error(
        "unknown parameter `{}` for `{step}`; its parameters are: {}",
        crate::pipeline::elide(.name),
        expected.join(", ")
    )]
    Unknown {
        /// The step type's source path.
        step: &'static str,
        /// The name given.
        name: String,
        /// The declared names.
        expected: Vec<&'static str>,
    },
    /// A value of the wrong type or out of range.
    #[error("parameter `{name}` of `{step}`: {source}")]
    Invalid {
        /// The step type's source path.
        step: &'static str,
        /// The parameter.
        name: &'static str,
        /// What is wrong with the value.
        #[source]
        source: ValueError,
    },
}

/// A parameter value that a step refuses although its type is right: what a step kind's
/// `check_params` returns (sizes spelled in a string that do not parse, say).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{name}`: {message}")]
pub struct ParamCheckError {
    /// The parameter.
    pub name: String,
    /// What is wrong with its value, and what would be right.
    pub message: String,
}

impl ParamCheckError {
    /// Parameter `name` refused, for the reason `message`.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        ParamCheckError {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// Reads one field's value out of `params` for a generated `from_params`.
///
/// Missing values fall back to the spec's default (`null` for an `Option`).
#[doc(hidden)]
pub fn read_field<T: Param>(
    step: &'static str,
    params: &Params,
    spec: &ParamSpec,
) -> Result<T, ParamError> {
    let owned;
    let value = match params.get(spec.name) {
        Some(v) => v,
        None => match spec.default_value() {
            Some(v) => {
                owned = v;
                &owned
            }
            None => {
                return Err(ParamError::Missing {
                    step,
                    name: spec.name,
                    ty: spec.ty,
                });
            }
        },
    };
    T::from_value(value).map_err(|source| ParamError::Invalid {
        step,
        name: spec.name,
        source,
    })
}

/// Rejects names in `params` that are not among `specs`, for a generated `from_params`.
#[doc(hidden)]
pub fn reject_unknown(
    step: &'static str,
    params: &Params,
    specs: &[ParamSpec],
) -> Result<(), ParamError> {
    for name in params.names() {
        if !specs.iter().any(|s| s.name == name) {
            return Err(ParamError::Unknown {
                step,
                name: name.to_owned(),
                expected: specs.iter().map(|s| s.name).collect(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_are_range_checked() {
        assert_eq!(i8::from_value(&Value::Int(127)), Ok(127));
        let err = i8::from_value(&Value::Int(128)).unwrap_err();
        assert_eq!(err.reason, ValueErrorReason::OutOfRange);
        assert_eq!(err.to_string(), "128 is out of range for i8 (-128..=127)");
        assert!(u32::from_value(&Value::Int(-1)).is_err());
        assert!(i32::from_value(&Value::Int(3_000_000_000)).is_err());
        assert_eq!(u32::from_value(&Value::Int(4_294_967_295)), Ok(u32::MAX));
    }

    #[test]
    fn kinds_do_not_mix() {
        assert!(i64::from_value(&Value::Float(1.0)).is_err());
        assert!(String::from_value(&Value::Int(1)).is_err());
        assert!(bool::from_value(&Value::Int(1)).is_err());
        let err = f64::from_value(&Value::Str("fast".into())).unwrap_err();
        assert_eq!(err.to_string(), "expected f64, found string \"fast\"");
        // An integer literal is a fine float.
        assert_eq!(f64::from_value(&Value::Int(2)), Ok(2.0));
        assert!(f64::from_value(&Value::Int(i64::MAX)).is_err());
    }

    #[test]
    fn options_take_null() {
        assert_eq!(Option::<i64>::from_value(&Value::Null), Ok(None));
        assert_eq!(Option::<i64>::from_value(&Value::Int(3)), Ok(Some(3)));
        let err = i64::from_value(&Value::Null).unwrap_err();
        assert_eq!(err.reason, ValueErrorReason::Null);
        let err = Option::<u8>::from_value(&Value::Int(300)).unwrap_err();
        assert_eq!(err.expected.to_string(), "Option<u8>");
    }

    #[test]
    fn f32_round_trips() {
        let x: f32 = 0.1;
        assert_eq!(f32::from_value(&x.to_value()), Ok(x));
        assert!(f32::from_value(&Value::Float(1e300)).is_err());
    }

    #[test]
    fn canonical_bytes_ignore_order_and_tell_int_from_float() {
        let a = Params::new()
            .with("lr", Value::Float(0.1))
            .with("epochs", Value::Int(1));
        let b = Params::new()
            .with("epochs", Value::Int(1))
            .with("lr", Value::Float(0.1));
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        let c = Params::new()
            .with("epochs", Value::Float(1.0))
            .with("lr", Value::Float(0.1));
        assert_ne!(a.canonical_bytes(), c.canonical_bytes());
    }

    #[test]
    fn canonical_bytes_canonicalise_nan() {
        let a = Params::new().with("x", Value::Float(f64::NAN));
        let b = Params::new().with("x", Value::Float(-f64::NAN));
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        let z = Params::new().with("x", Value::Float(0.0));
        let nz = Params::new().with("x", Value::Float(-0.0));
        assert_ne!(z.canonical_bytes(), nz.canonical_bytes());
    }

    #[test]
    fn canonical_bytes_are_unambiguous() {
        // "ab" + "c" must not collide with "a" + "bc".
        let a = Params::new().with("ab", Value::Str("c".into()));
        let b = Params::new().with("a", Value::Str("bc".into()));
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }
}
