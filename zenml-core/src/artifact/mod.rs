//! Artifacts: the typed values steps produce and consume, and how they become bytes.
//!
//! Every output of a step is written through a [`Materializer`] into bytes, hashed (xxh3-128)
//! while it streams, and stored content-addressed and write-once in an
//! [`ArtifactStore`](crate::store::ArtifactStore). A type is an artifact when it implements
//! [`Artifact`], which names its materializer:
//!
//! - every `serde` type (`Serialize + DeserializeOwned`) is an artifact, written as MessagePack
//!   ([`MsgPack`]): compact, and self-describing enough for any serde data model;
//! - [`Json<T>`] wraps a serde type to store it as JSON a person can read;
//! - [`Metrics`] (named numbers) is stored as JSON;
//! - [`Table`] (Apache Arrow record batches) is stored as Arrow IPC;
//! - [`FileArtifact`] (a file on local disk) is stored verbatim, streamed, never held in memory.
//!
//! A type of your own that should be written differently implements [`Artifact`] with a
//! materializer of its own (it must not also implement `Serialize`, which would claim the serde
//! materializer for it).

mod erased;
mod file;
pub mod io;
mod metrics;
mod table;

pub use erased::{AnyValue, ArtifactKind, FileReader, InputError, Inputs, Outputs};
pub use file::{FileArtifact, RawFile};
pub use metrics::Metrics;
pub use table::{Table, TableError};

use std::borrow::Cow;
use std::io::{Read, Write};
use std::marker::PhantomData;

/// A failure to write or read an artifact's bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaterializeError {
    /// The underlying stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The value could not be encoded or the bytes decoded.
    #[error("{materializer}: {source}")]
    Codec {
        /// The materializer's identity.
        materializer: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl MaterializeError {
    /// A codec failure of `materializer`.
    pub fn codec(
        materializer: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        MaterializeError::Codec {
            materializer,
            source: source.into(),
        }
    }
}

/// Writes values of one type to bytes and reads them back.
///
/// `ID` and `VERSION` enter the cache key of every step whose output uses the materializer, so
/// bump `VERSION` whenever the bytes it writes change.
pub trait Materializer: Send + Sync + 'static {
    /// The type this materializer writes.
    type Value;
    /// A stable identity, such as `"zenml.msgpack"`.
    const ID: &'static str;
    /// The version of the encoding.
    const VERSION: u32;
    /// Writes `value` to `w`.
    fn write(value: &Self::Value, w: &mut dyn Write) -> Result<(), MaterializeError>;
    /// Reads a value back from `r`.
    fn read(r: &mut dyn Read) -> Result<Self::Value, MaterializeError>;

    /// The file whose bytes, verbatim, are what [`Materializer::write`] writes for `value`, if
    /// there is one (a materializer of files). The runtime may then read the file itself, on
    /// several threads: it hashes it ahead of the copy to find out early whether the store holds
    /// those bytes already (then nothing is written), and overlaps reading with writing. The
    /// default, for materializers that encode, is `None`.
    fn source_file(value: &Self::Value) -> Option<&std::path::Path> {
        let _ = value;
        None
    }

    /// Does [`Materializer::read_file`] do better with a file than [`Materializer::read`] with a
    /// stream? When it does (a materializer of files, which can copy inside the kernel), the
    /// runtime hands it the stored object itself wherever the store keeps its objects as local
    /// files. The default is `false`.
    const READS_FILES: bool = false;

    /// Reads a value from `file`, a local file holding exactly the bytes [`Materializer::write`]
    /// wrote, read from its start. Called only when [`Materializer::READS_FILES`] is set; the
    /// runtime hashes the same file on another thread meanwhile and drops the value unless the
    /// bytes are intact. The default reads the file as a stream.
    fn read_file(file: &mut std::fs::File) -> Result<Self::Value, MaterializeError> {
        Self::read(file)
    }
}

/// The ML Metadata base type an artifact type may declare (a metadata store's notion: it lives
/// with the store's records).
pub use crate::store::BaseType;

/// A value a step can produce or consume.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an artifact type",
    label = "cannot be stored as a step input or output",
    note = "implement serde's Serialize and Deserialize for it (it is then stored as MessagePack), \
            wrap it in zenml::Json<_>, or implement zenml::Artifact with a materializer of its own"
)]
pub trait Artifact: Sized + Send + Sync + 'static {
    /// How values of this type become bytes.
    type Materializer: Materializer<Value = Self>;

    /// The name of this type's ML Metadata `ArtifactType`.
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(std::any::type_name::<Self>())
    }

    /// The ML Metadata base type, if any.
    fn base_type() -> Option<BaseType> {
        None
    }
}

/// The materializer of every serde type: MessagePack (`rmp-serde`, structs as maps).
#[derive(Debug)]
pub struct MsgPack<T>(PhantomData<fn() -> T>);

impl<T> Materializer for MsgPack<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Value = T;
    const ID: &'static str = "zenml.msgpack";
    const VERSION: u32 = 1;

    fn write(value: &T, mut w: &mut dyn Write) -> Result<(), MaterializeError> {
        rmp_serde::encode::write_named(&mut w, value).map_err(|e| match e {
            rmp_serde::encode::Error::InvalidValueWrite(
                rmp::encode::ValueWriteError::InvalidMarkerWrite(io)
                | rmp::encode::ValueWriteError::InvalidDataWrite(io),
            ) => MaterializeError::Io(io),
            e => MaterializeError::codec(Self::ID, e),
        })
    }

    fn read(r: &mut dyn Read) -> Result<T, MaterializeError> {
        rmp_serde::from_read(r).map_err(|e| match e {
            rmp_serde::decode::Error::InvalidMarkerRead(io)
            | rmp_serde::decode::Error::InvalidDataRead(io) => MaterializeError::Io(io),
            e => MaterializeError::codec(Self::ID, e),
        })
    }
}

impl<T> Artifact for T
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Materializer = MsgPack<T>;
}

/// A serde value stored as JSON, for artifacts a person should be able to read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Json<T>(pub T);

/// The materializer of [`Json`].
#[derive(Debug)]
pub struct JsonMaterializer<T>(PhantomData<fn() -> T>);

impl<T> Materializer for JsonMaterializer<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Value = Json<T>;
    const ID: &'static str = "zenml.json";
    const VERSION: u32 = 1;

    fn write(value: &Json<T>, w: &mut dyn Write) -> Result<(), MaterializeError> {
        serde_json::to_writer_pretty(w, &value.0).map_err(|e| json_error(Self::ID, e))
    }

    fn read(r: &mut dyn Read) -> Result<Json<T>, MaterializeError> {
        serde_json::from_reader(std::io::BufReader::new(r))
            .map(Json)
            .map_err(|e| json_error(Self::ID, e))
    }
}

pub(crate) fn json_error(id: &'static str, e: serde_json::Error) -> MaterializeError {
    if e.is_io() {
        MaterializeError::Io(e.into())
    } else {
        MaterializeError::codec(id, e)
    }
}

impl<T> Artifact for Json<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Materializer = JsonMaterializer<T>;

    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(std::any::type_name::<T>())
    }
}
