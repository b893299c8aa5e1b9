//! How values are kept in ML Metadata's `*Property` rows.
//!
//! Exactly one of `int_value`, `double_value`, `string_value` and `bool_value` is set in a row
//! zenml writes (ML Metadata fails to read a row with none), so a `Null` is never written: the
//! row is left out. Floats are stored bit for bit: SQLite's `REAL` keeps every float except NaN
//! (which it turns into `NULL`) and `-0.0` (which a `REAL` column stores as the integer 0), so
//! those two are written as the BLOB of their spelling (`NaN`, `-0.0`), which SQLite's column
//! affinity leaves alone and ML Metadata parses as the same double.
//!
//! ML Metadata reads two kinds of strings as something else: `__MLMD_NULL__` is its NULL (a
//! property row holding it is unreadable, and the whole read fails), and a value starting with
//! `mlmd-struct::` is a serialized struct. Such strings, and those that start with the escape
//! prefix itself, are stored with the prefix `zenml-escaped::` in front ([`escape`]), in property
//! values and context names alike, and read back without it ([`unescape`]): every string
//! round-trips, and ML Metadata reads a store whatever the strings in it.

use std::borrow::Cow;

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, Row, params};
use zenml_core::param::Value;
use zenml_core::store::Id;

use super::error::{Error, Result};

/// The kind of node a property belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node {
    Execution,
    Artifact,
    Context,
}

impl Node {
    fn upsert_sql(self) -> &'static str {
        match self {
            Node::Execution => {
                "INSERT OR REPLACE INTO ExecutionProperty (execution_id, name, is_custom_property, \
                 int_value, double_value, string_value, bool_value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            }
            Node::Artifact => {
                "INSERT OR REPLACE INTO ArtifactProperty (artifact_id, name, is_custom_property, \
                 int_value, double_value, string_value, bool_value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            }
            Node::Context => {
                "INSERT OR REPLACE INTO ContextProperty (context_id, name, is_custom_property, \
                 int_value, double_value, string_value, bool_value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            }
        }
    }

    fn delete_sql(self) -> &'static str {
        match self {
            Node::Execution => {
                "DELETE FROM ExecutionProperty \
                 WHERE execution_id = ?1 AND name = ?2 AND is_custom_property = ?3"
            }
            Node::Artifact => {
                "DELETE FROM ArtifactProperty \
                 WHERE artifact_id = ?1 AND name = ?2 AND is_custom_property = ?3"
            }
            Node::Context => {
                "DELETE FROM ContextProperty \
                 WHERE context_id = ?1 AND name = ?2 AND is_custom_property = ?3"
            }
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
    fn flag(self) -> i64 {
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

/// A stored string, if any, as it was given to [`escape`].
pub(crate) fn unescape_opt(s: Option<String>) -> Option<String> {
    s.map(unescape)
}

/// The `double_value` cell of a float.
pub(crate) fn double_cell(x: f64) -> Sql {
    if x.is_nan() {
        Sql::Blob(b"NaN".to_vec())
    } else if x == 0.0 && x.is_sign_negative() {
        Sql::Blob(b"-0.0".to_vec())
    } else {
        Sql::Real(x)
    }
}

/// The `(int_value, double_value, string_value, bool_value)` cells of a value.
fn cells(value: &Value) -> [Sql; 4] {
    let mut c = [Sql::Null, Sql::Null, Sql::Null, Sql::Null];
    match value {
        Value::Int(i) => c[0] = Sql::Integer(*i),
        Value::Float(x) => c[1] = double_cell(*x),
        Value::Str(s) => c[2] = Sql::Text(escape(s).into_owned()),
        Value::Bool(b) => c[3] = Sql::Integer(i64::from(*b)),
        // `Value` may grow; anything else is not stored, like `Null`.
        _ => {}
    }
    c
}

/// Writes (or replaces) a property; a `Null` removes it.
pub(crate) fn put(
    conn: &Connection,
    node: Node,
    owner: Id,
    name: &str,
    declared: Declared,
    value: &Value,
) -> Result<()> {
    if value.is_null() {
        conn.prepare_cached(node.delete_sql())?
            .execute(params![owner, name, declared.flag()])?;
        return Ok(());
    }
    let [i, d, s, b] = cells(value);
    conn.prepare_cached(node.upsert_sql())?.execute(params![
        owner,
        name,
        declared.flag(),
        i,
        d,
        s,
        b
    ])?;
    Ok(())
}

/// A float from a `double_value` cell.
pub(crate) fn read_double(cell: ValueRef<'_>) -> Result<Option<f64>> {
    Ok(match cell {
        ValueRef::Null => None,
        ValueRef::Real(x) => Some(x),
        // A whole float that a foreign writer left as an integer.
        #[allow(clippy::cast_precision_loss)]
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(
            std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "`{}` in a double_value column is not a number",
                        String::from_utf8_lossy(t)
                    ))
                })?,
        ),
    })
}

/// The value of a property row whose `int_value, double_value, string_value, bool_value`
/// columns start at `first`, in ML Metadata's order of precedence; `None` when all are `NULL`.
pub(crate) fn read_value(row: &Row<'_>, first: usize) -> Result<Option<Value>> {
    if let Some(i) = row.get::<_, Option<i64>>(first)? {
        return Ok(Some(Value::Int(i)));
    }
    if let Some(x) = read_double(row.get_ref(first + 1)?)? {
        return Ok(Some(Value::Float(x)));
    }
    if let Some(s) = row.get::<_, Option<String>>(first + 2)? {
        return Ok(Some(Value::Str(unescape(s))));
    }
    Ok(match row.get_ref(first + 3)? {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(Value::Bool(i != 0)),
        #[allow(clippy::float_cmp)]
        ValueRef::Real(x) => Some(Value::Bool(x != 0.0)),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            let s = String::from_utf8_lossy(t).to_ascii_lowercase();
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

    fn round_trip(v: &Value) -> Option<Value> {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch(
            "CREATE TABLE ExecutionProperty (execution_id INT NOT NULL, name VARCHAR(255) NOT NULL,
             is_custom_property TINYINT(1) NOT NULL, int_value INT, double_value DOUBLE,
             string_value TEXT, byte_value BLOB, proto_value BLOB, bool_value BOOLEAN,
             PRIMARY KEY (execution_id, name, is_custom_property))",
        )
        .expect("table");
        put(&conn, Node::Execution, 1, "p", Declared::Yes, v).expect("put");
        conn.query_row(
            "SELECT int_value, double_value, string_value, bool_value FROM ExecutionProperty",
            [],
            |r| Ok(read_value(r, 0)),
        )
        .ok()
        .and_then(|v| v.ok().flatten())
    }

    #[test]
    fn floats_round_trip_bit_for_bit() {
        for x in [
            -0.0,
            0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            5e-324,
            0.1 + 0.2,
            f64::MAX,
            2f64.powi(60),
        ] {
            match round_trip(&Value::Float(x)) {
                Some(Value::Float(y)) => assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{x:?} read back as {y:?}"
                ),
                other => panic!("{x:?} read back as {other:?}"),
            }
        }
    }

    #[test]
    fn kinds_round_trip_and_null_removes() {
        for v in [
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Bool(true),
            Value::Bool(false),
            Value::Str("42".into()),
            Value::Str(String::new()),
            Value::Str("__MLMD_NULL__".into()),
            Value::Str("mlmd-struct::abc".into()),
            Value::Str("zenml-escaped::x".into()),
            Value::Str("zenml-escaped::__MLMD_NULL__".into()),
        ] {
            assert_eq!(round_trip(&v), Some(v.clone()));
        }
        assert_eq!(round_trip(&Value::Null), None);
    }

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
}
