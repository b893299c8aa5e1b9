//! Tables: Apache Arrow record batches, stored as Arrow IPC.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, UInt32Array};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use ndarray::Array2;

use super::{Artifact, BaseType, MaterializeError, Materializer};

/// A table of named, typed columns: one Arrow schema and its record batches.
///
/// Tables are what datasources produce and what splits, preprocessers, trainers and evaluators
/// pass along. They are stored as an Arrow IPC stream, so any Arrow tool can read them, and they
/// stream: a table's batches are written one after the other.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

/// A table operation that cannot be done on this table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// An Arrow operation failed.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// No column of that name.
    #[error("no column named `{name}`; the columns are: {}", columns.join(", "))]
    NoSuchColumn {
        /// The name asked for.
        name: String,
        /// The table's columns.
        columns: Vec<String>,
    },
    /// A column that is not numeric where numbers are needed.
    #[error("column `{name}` is {data_type}, not numeric")]
    NotNumeric {
        /// The column.
        name: String,
        /// Its Arrow type.
        data_type: DataType,
    },
    /// A null where a number is needed.
    #[error("column `{name}` has a null at row {row}")]
    Null {
        /// The column.
        name: String,
        /// The row.
        row: usize,
    },
    /// Reading a file failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// Shapes that do not fit together.
    #[error("{0}")]
    Shape(String),
}

impl Table {
    /// A table of `batches`, which must all have `schema`.
    pub fn try_new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Self, TableError> {
        if let Some(b) = batches.iter().find(|b| b.schema() != schema) {
            return Err(TableError::Shape(format!(
                "a batch has schema {:?}, the table has {:?}",
                b.schema(),
                schema
            )));
        }
        Ok(Table { schema, batches })
    }

    /// A table of one batch.
    pub fn from_batch(batch: RecordBatch) -> Self {
        Table {
            schema: batch.schema(),
            batches: vec![batch],
        }
    }

    /// An empty table with `schema`.
    pub fn empty(schema: SchemaRef) -> Self {
        Table {
            schema,
            batches: Vec::new(),
        }
    }

    /// A table of `f64` columns from a matrix whose columns are named by `names`.
    pub fn from_ndarray(names: &[&str], matrix: &Array2<f64>) -> Result<Self, TableError> {
        if names.len() != matrix.ncols() {
            return Err(TableError::Shape(format!(
                "{} column names for a matrix of {} columns",
                names.len(),
                matrix.ncols()
            )));
        }
        let fields: Vec<Field> = names
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, false))
            .collect();
        let columns: Vec<ArrayRef> = matrix
            .columns()
            .into_iter()
            .map(|c| Arc::new(Float64Array::from_iter_values(c.iter().copied())) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Table::from_batch(batch))
    }

    /// Reads a CSV file with a header row; column types are inferred from the data.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Self, TableError> {
        let path = path.as_ref();
        let io = |source| TableError::Io {
            path: path.display().to_string(),
            source,
        };
        let format = arrow_csv::reader::Format::default().with_header(true);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let (schema, _) = format.infer_schema(&mut file, None)?;
        let file = std::fs::File::open(path).map_err(io)?;
        let schema = Arc::new(schema);
        let reader = arrow_csv::ReaderBuilder::new(schema.clone())
            .with_format(format)
            .build(file)?;
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Table::try_new(schema, batches)
    }

    /// The schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The record batches.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The number of columns.
    pub fn num_columns(&self) -> usize {
        self.schema.fields().len()
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// All rows in one batch.
    pub fn to_batch(&self) -> Result<RecordBatch, TableError> {
        Ok(arrow_select::concat::concat_batches(
            &self.schema,
            &self.batches,
        )?)
    }

    /// The rows at `indices`, in that order, as a new table.
    pub fn take_rows(&self, indices: &[u32]) -> Result<Table, TableError> {
        let batch = self.to_batch()?;
        let idx = UInt32Array::from(indices.to_vec());
        let columns = batch
            .columns()
            .iter()
            .map(|c| arrow_select::take::take(c.as_ref(), &idx, None))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Table::from_batch(RecordBatch::try_new(
            self.schema.clone(),
            columns,
        )?))
    }

    /// The index of column `name`.
    pub fn column_index(&self, name: &str) -> Result<usize, TableError> {
        self.schema
            .index_of(name)
            .map_err(|_| TableError::NoSuchColumn {
                name: name.to_owned(),
                columns: self
                    .column_names()
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
            })
    }

    /// Column `name` as `f64`s (integers and floats are cast; nulls are an error).
    pub fn column_f64(&self, name: &str) -> Result<Vec<f64>, TableError> {
        let i = self.column_index(name)?;
        let mut out = Vec::with_capacity(self.num_rows());
        for batch in &self.batches {
            let col = batch.column(i);
            if !col.data_type().is_numeric() {
                return Err(TableError::NotNumeric {
                    name: name.to_owned(),
                    data_type: col.data_type().clone(),
                });
            }
            let col = arrow_cast::cast(col, &DataType::Float64)?;
            let col = col.as_primitive::<Float64Type>();
            if let Some(row) = (0..col.len()).find(|&r| col.is_null(r)) {
                return Err(TableError::Null {
                    name: name.to_owned(),
                    row: out.len() + row,
                });
            }
            out.extend_from_slice(col.values());
        }
        Ok(out)
    }

    /// Column `name` as strings (any type, formatted; nulls as empty strings).
    pub fn column_strings(&self, name: &str) -> Result<Vec<String>, TableError> {
        let i = self.column_index(name)?;
        let mut out = Vec::with_capacity(self.num_rows());
        for batch in &self.batches {
            let col = arrow_cast::cast(batch.column(i), &DataType::Utf8)?;
            let col = col.as_string::<i32>();
            out.extend((0..col.len()).map(|r| {
                if col.is_null(r) {
                    String::new()
                } else {
                    col.value(r).to_owned()
                }
            }));
        }
        Ok(out)
    }

    /// The named numeric columns as a row-major `rows × columns` matrix, for training crates such
    /// as linfa.
    pub fn to_ndarray(&self, columns: &[&str]) -> Result<Array2<f64>, TableError> {
        let rows = self.num_rows();
        let mut m = Array2::<f64>::zeros((rows, columns.len()));
        for (j, name) in columns.iter().enumerate() {
            let col = self.column_f64(name)?;
            m.column_mut(j)
                .iter_mut()
                .zip(col)
                .for_each(|(dst, v)| *dst = v);
        }
        Ok(m)
    }

    /// Every numeric column except those in `except`, as a matrix, with the names used.
    pub fn numeric_matrix(
        &self,
        except: &[&str],
    ) -> Result<(Vec<String>, Array2<f64>), TableError> {
        let names: Vec<String> = self
            .schema
            .fields()
            .iter()
            .filter(|f| f.data_type().is_numeric() && !except.contains(&f.name().as_str()))
            .map(|f| f.name().clone())
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let m = self.to_ndarray(&refs)?;
        Ok((names, m))
    }

    /// This table with the named columns replaced (same order, same length) by `f64` columns.
    pub fn with_f64_columns(&self, replace: &[(&str, Vec<f64>)]) -> Result<Table, TableError> {
        let batch = self.to_batch()?;
        let mut fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (name, values) in replace {
            let i = self.column_index(name)?;
            if values.len() != batch.num_rows() {
                return Err(TableError::Shape(format!(
                    "{} values for column `{name}` of a table of {} rows",
                    values.len(),
                    batch.num_rows()
                )));
            }
            fields[i] = Field::new(*name, DataType::Float64, false);
            columns[i] = Arc::new(Float64Array::from(values.clone()));
        }
        let schema = Arc::new(Schema::new(fields));
        Ok(Table::from_batch(RecordBatch::try_new(schema, columns)?))
    }
}

impl From<RecordBatch> for Table {
    fn from(batch: RecordBatch) -> Self {
        Table::from_batch(batch)
    }
}

/// The materializer of [`Table`]: an Arrow IPC stream.
#[derive(Debug)]
pub struct ArrowIpc;

impl Materializer for ArrowIpc {
    type Value = Table;
    const ID: &'static str = "zenml.arrow-ipc";
    const VERSION: u32 = 1;

    fn write(value: &Table, w: &mut dyn Write) -> Result<(), MaterializeError> {
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(w, &value.schema)
            .map_err(|e| arrow_error(Self::ID, e))?;
        for batch in &value.batches {
            writer.write(batch).map_err(|e| arrow_error(Self::ID, e))?;
        }
        writer.finish().map_err(|e| arrow_error(Self::ID, e))
    }

    fn read(r: &mut dyn Read) -> Result<Table, MaterializeError> {
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::BufReader::new(r), None)
            .map_err(|e| arrow_error(Self::ID, e))?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| arrow_error(Self::ID, e))?;
        Ok(Table { schema, batches })
    }
}

fn arrow_error(id: &'static str, e: ArrowError) -> MaterializeError {
    match e {
        ArrowError::IoError(_, io) => MaterializeError::Io(io),
        e => MaterializeError::codec(id, e),
    }
}

impl Artifact for Table {
    type Materializer = ArrowIpc;

    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("zenml.Table")
    }

    fn base_type() -> Option<BaseType> {
        Some(BaseType::Dataset)
    }
}
