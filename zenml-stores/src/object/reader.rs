//! Reading an object that the backend delivers as an async stream of chunks.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures::StreamExt;
use futures::channel::mpsc;
use futures::stream::BoxStream;
use tokio::task::JoinHandle;

use super::Shared;

/// How many chunks may wait between the backend and the reader.
const CHUNKS_AHEAD: usize = 4;

/// A synchronous reader over an object's byte stream: a task on the store's runtime pulls the
/// chunks and hands them over through a bounded channel, so at most a few chunks are in memory.
pub(crate) struct StreamReader {
    /// Keeps the runtime (and the store's description) alive while reading.
    shared: Arc<Shared>,
    chunks: mpsc::Receiver<object_store::Result<Bytes>>,
    current: Bytes,
    done: bool,
    task: JoinHandle<()>,
}

impl StreamReader {
    pub(crate) fn new(
        shared: Arc<Shared>,
        mut stream: BoxStream<'static, object_store::Result<Bytes>>,
    ) -> Self {
        let (mut tx, rx) = mpsc::channel(CHUNKS_AHEAD);
        let task = shared.runtime.spawn(async move {
            while let Some(chunk) = stream.next().await {
                let failed = chunk.is_err();
                if futures::SinkExt::send(&mut tx, chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        StreamReader {
            shared,
            chunks: rx,
            current: Bytes::new(),
            done: false,
            task,
        }
    }
}

impl Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match futures::executor::block_on(self.chunks.next()) {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(io::Error::other(self.shared.backend(e)));
                }
                None => self.done = true,
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        // Stop fetching what nobody will read.
        self.task.abort();
    }
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("buffered", &self.current.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
