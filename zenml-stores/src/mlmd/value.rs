//! How values are kept in ML Metadata's `*Property` rows.
//!
//! Exactly one of `int_value`, `double_value`, `string_value` and `bool_value` is set in a row
//! zenml writes (ML Metadata fails to read a row with none), so a `Null` is never written: the
//! row is left out.
//!
//! Floats are stored bit for bit. SQLite's `REAL` keeps every float except NaN (which it turns
//! into `NULL`) and `-0.0` (which a `REAL` column stores as the integer 0): those two are written
//! in `double_value` as the BLOB of their spelling (`NaN`, `-0.0`), which SQLite's column
//! affinity leaves alone and ML Metadata parses as the same double. MySQL's `DOUBLE` holds no NaN
//! and no infinity: there, NaN, the infinities and `-0.0` are written in `string_value` as their
//! spelling, which zenml reads back as the float the property is declared as.
//!
//! ML Metadata reads two kinds of strings as something else: `__MLMD_NULL__` is its NULL (a
//! property row holding it is unreadable, and the whole read fails), and a value starting with
//! `mlmd-struct::` is a serialized struct. Such strings, and those that start with the escape
//! prefix itself, are stored with the prefix `zenml-escaped::` in front ([`escape`]), in property
//! values and context names alike, and read back without it ([`unescape`]): every string
//! round-trips, and ML Metadata reads a store whatever the strings in it.

use std::borrow::Cow;

use zenml_core::param::Value;
use zenml_core::store::Id;

use super::{Cell, Conn, Dialect, Error, ROWS_PER_STATEMENT, Result};

/// The kind of node a property belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node {
    Execution,
    Artifact,
    Context,
}

impl Node {
    fn table_and_owner(self) -> (&'static str, &'static str) {
        match self {
            Node::Execution => ("ExecutionProperty", "execution_id"),
            Node::Artifact => ("ArtifactProperty", "artifact_id"),
            Node::Context => ("ContextProperty", "context_id"),
        }
    }
}

/// Whether a property is declared by the node's type (`properties`) or not
/// (`custom_properties`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    /// `is_custom_property = 0`.
    Yes,
    /// `is_custom_property = 1`.
    Custom,
}

impl Declared {
    pub(crate) fn flag(self) -> i64 {
        match self {
            Declared::Yes => 0,
            Declared::Custom => 1,
        }
    }
}

/// What marks a string stored escaped.
const ESCAPED: &str = "zenml-escaped::";
/// ML Metadata's NULL, in its text form.
const MLMD_NULL: &str = "__MLMD_NULL__";
/// What starts a serialized struct for ML Metadata.
const MLMD_STRUCT: &str = "mlmd-struct::";

/// A string as stored: with [`ESCAPED`] in front when ML Metadata would misread it (see the
/// module docs).
pub(crate) fn escape(s: &str) -> Cow<'_, str> {
    if s == MLMD_NULL || s.starts_with(MLMD_STRUCT) || s.starts_with(ESCAPED) {
        Cow::Owned(format!("{ESCAPED}{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A stored string as it was given to [`escape`].
pub(crate) fn unescape(s: String) -> String {
    match s.strip_prefix(ESCAPED) {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}

/// The text of a cell, if any, as it was given to [`escape`].
pub(crate) fn text(cell: &Cell) -> Result<Option<String>> {
    Ok(cell.text()?.map(unescape))
}

/// The `(double_value, string_value)` cells of a float in `dialect` (see the module docs).
pub(crate) fn double_cells(dialect: Dialect, x: f64) -> (Cell, Cell) {
    let negative_zero = x == 0.0 && x.is_sign_negative();
    match dialect {
        Dialect::Sqlite if x.is_nan() => (Cell::Blob(b"NaN".to_vec()), Cell::Null),
        Dialect::Sqlite if negative_zero => (Cell::Blob(b"-0.0".to_vec()), Cell::Null),
        Dialect::Mysql if !x.is_finite() || negative_zero => {
            (Cell::Null, Cell::Text(float_spelling(x).to_owned()))
        }
        _ => (Cell::Real(x), Cell::Null),
    }
}

/// The spelling of a float MySQL cannot hold, as Rust (and ML Metadata) parse it.
fn float_spelling(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x == f64::INFINITY {
        "inf"
    } else if x == f64::NEG_INFINITY {
        "-inf"
    } else {
        "-0.0"
    }
}

/// A float from a `double_value` cell.
pub(crate) fn read_double(cell: &Cell) -> Result<Option<f64>> {
    Ok(match cell {
        Cell::Null => None,
        Cell::Real(x) => Some(*x),
        // A whole float that a foreign writer left as an integer.
        #[allow(clippy::cast_precision_loss)]
        Cell::Int(i) => Some(*i as f64),
        Cell::Text(_) | Cell::Blob(_) => {
            let t = cell.text()?.unwrap_or_default();
            Some(t.trim().parse::<f64>().map_err(|_| {
                Error::Corrupt(format!("`{t}` in a double_value column is not a number"))
            })?)
        }
    })
}

/// A float the value of a property declared as a double reads as: a float, or the spelling of
/// one a database cannot hold (see the module docs). `None` for anything else.
pub(crate) fn as_double(value: &Value) -> Option<f64> {
    match value {
        Value::Float(x) => Some(*x),
        Value::Str(s) => match s.as_str() {
            "NaN" | "inf" | "-inf" | "-0.0" => s.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// The `(int_value, double_value, string_value, bool_value)` cells of a value.
fn cells(dialect: Dialect, value: &Value) -> [Cell; 4] {
    let mut c = [Cell::Null, Cell::Null, Cell::Null, Cell::Null];
    match value {
        Value::Int(i) => c[0] = Cell::Int(*i),
        Value::Float(x) => (c[1], c[2]) = double_cells(dialect, *x),
        Value::Str(s) => c[2] = Cell::Text(escape(s).into_owned()),
        Value::Bool(b) => c[3] = Cell::Int(i64::from(*b)),
        // `Value` may grow; anything else is not stored, like `Null`.
        _ => {}
    }
    c
}

/// Writes (or replaces) a property; a `Null` removes it.
pub(crate) fn put(
    conn: &mut dyn Conn,
    node: Node,
    owner: Id,
    name: &str,
    declared: Declared,
    value: &Value,
) -> Result<()> {
    let (table, owner_column) = node.table_and_owner();
    if value.is_null() {
        let sql = format!(
            "DELETE FROM {table} WHERE {owner_column} = ? AND name = ? AND is_custom_property = ?"
        );
        conn.exec(
            &sql,
            &[Cell::Int(owner), name.into(), Cell::Int(declared.flag())],
        )?;
        return Ok(());
    }
    let [i, d, s, b] = cells(conn.dialect(), value);
    let sql = format!(
        "{} {table} ({owner_column}, name, is_custom_property, int_value, double_value, \
         string_value, bool_value) VALUES (?, ?, ?, ?, ?, ?, ?)",
        conn.dialect().replace_into()
    );
    conn.exec(
        &sql,
        &[
            Cell::Int(owner),
            name.into(),
            Cell::Int(declared.flag()),
            i,
            d,
            s,
            b,
        ],
    )?;
    Ok(())
}

/// Writes (or replaces) several properties of a node; `Null`s are left out (not removed). The
/// names must differ from one another.
pub(crate) fn put_all(
    conn: &mut dyn Conn,
    node: Node,
    owner: Id,
    rows: &[(&str, Declared, &Value)],
) -> Result<()> {
    let rows: Vec<(Id, &str, Declared, &Value)> = rows
        .iter()
        .map(|(name, declared, value)| (owner, *name, *declared, *value))
        .collect();
    put_rows(conn, node, &rows)
}

/// Writes (or replaces) properties of nodes of one kind, as (owner, name, declared, value), a
/// statement per [`ROWS_PER_STATEMENT`] rows; `Null`s are left out (not removed). No two rows
/// may name one property.
pub(crate) fn put_rows(
    conn: &mut dyn Conn,
    node: Node,
    rows: &[(Id, &str, Declared, &Value)],
) -> Result<()> {
    let dialect = conn.dialect();
    let (table, owner_column) = node.table_and_owner();
    let rows: Vec<_> = rows.iter().filter(|(_, _, _, v)| !v.is_null()).collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut bound = Vec::with_capacity(chunk.len() * 7);
        for (owner, name, declared, value) in chunk {
            let [i, d, s, b] = cells(dialect, value);
            bound.extend([
                Cell::Int(*owner),
                (*name).into(),
                Cell::Int(declared.flag()),
                i,
                d,
                s,
                b,
            ]);
        }
        let sql = format!(
            "{} {table} ({owner_column}, name, is_custom_property, int_value, double_value, \
             string_value, bool_value) VALUES {}",
            dialect.replace_into(),
            vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        conn.exec(&sql, &bound)?;
    }
    Ok(())
}

/// The value of a property row whose `int_value, double_value, string_value, bool_value`
/// columns start at `first`, in ML Metadata's order of precedence; `None` when all are `NULL`.
pub(crate) fn read_value(row: &[Cell], first: usize) -> Result<Option<Value>> {
    let cell = |i: usize| row.get(first + i).unwrap_or(&Cell::Null);
    if let Some(i) = cell(0).int()? {
        return Ok(Some(Value::Int(i)));
    }
    if let Some(x) = read_double(cell(1))? {
        return Ok(Some(Value::Float(x)));
    }
    if let Some(s) = text(cell(2))? {
        return Ok(Some(Value::Str(s)));
    }
    Ok(match cell(3) {
        Cell::Null => None,
        Cell::Int(i) => Some(Value::Bool(*i != 0)),
        #[allow(clippy::float_cmp)]
        Cell::Real(x) => Some(Value::Bool(*x != 0.0)),
        other => {
            let s = other.text()?.unwrap_or_default().to_ascii_lowercase();
            Some(Value::Bool(matches!(
                s.trim(),
                "1" | "true" | "t" | "yes" | "y"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strings_ml_metadata_misreads_are_escaped() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("__MLMD_NULL__x"), "__MLMD_NULL__x");
        assert_eq!(escape("__MLMD_NULL__"), "zenml-escaped::__MLMD_NULL__");
        assert_eq!(escape("mlmd-struct::a"), "zenml-escaped::mlmd-struct::a");
        for s in [
            "",
            "a",
            "__MLMD_NULL__",
            "mlmd-struct::",
            "zenml-escaped::",
            "x zenml-escaped::",
        ] {
            assert_eq!(unescape(escape(s).into_owned()), s);
        }
    }

    #[test]
    fn floats_a_database_cannot_hold_are_spelled_out_and_read_back() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0] {
            let (d, s) = double_cells(Dialect::Mysql, x);
            assert_eq!(d, Cell::Null);
            let Cell::Text(t) = s else {
                panic!("{x} is spelled out")
            };
            let back = as_double(&Value::Str(t)).expect("a float");
            assert!(back.to_bits() == x.to_bits() || (x.is_nan() && back.is_nan()));
        }
        assert_eq!(
            double_cells(Dialect::Mysql, 1.5),
            (Cell::Real(1.5), Cell::Null)
        );
        assert_eq!(
            double_cells(Dialect::Sqlite, f64::INFINITY),
            (Cell::Real(f64::INFINITY), Cell::Null)
        );
        assert_eq!(as_double(&Value::Str("nan".into())), None);
    }
}
