//! The store's own tokio runtime, and how synchronous callers wait on it.
//!
//! The artifact store traits are synchronous; `object_store` is async. Every async operation is
//! spawned onto a small runtime the store owns and awaited with a plain executor on the caller's
//! thread. The caller never enters a tokio runtime, so this works from any thread, including a
//! thread that is itself running a tokio runtime (where `Runtime::block_on` would panic).

use std::fmt;
use std::future::Future;
use std::io;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::{JoinError, JoinHandle};

/// A multi-threaded tokio runtime owned by one artifact store (and the readers and writers it
/// hands out), shut down without blocking when the last of them goes.
pub(crate) struct StoreRuntime {
    handle: Handle,
    /// Only taken on drop.
    runtime: Option<Runtime>,
}

impl StoreRuntime {
    /// Starts a runtime with `workers` worker threads (blocking file I/O runs on its blocking
    /// pool).
    pub(crate) fn new(workers: usize) -> io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .max_blocking_threads(16)
            .thread_name("zenml-artifacts")
            .enable_all()
            .build()?;
        Ok(StoreRuntime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Starts `future` on the runtime.
    pub(crate) fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `future` on the runtime and blocks the calling thread until it is done.
    pub(crate) fn run<F>(&self, future: F) -> Result<F::Output, JoinError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        wait(self.spawn(future))
    }
}

/// Blocks the calling thread until the task is done.
///
/// The join handle is polled outside tokio's cooperative budget: when the caller is itself a
/// task of some tokio runtime, an exhausted budget would make the handle yield and defer its
/// wake-up to that runtime, which cannot run while this thread blocks, and the wait would never
/// end.
pub(crate) fn wait<T>(task: JoinHandle<T>) -> Result<T, JoinError> {
    futures::executor::block_on(tokio::task::unconstrained(task))
}

impl Drop for StoreRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks stop, which tokio forbids (by panicking) when
        // the drop happens inside another runtime. Nothing is left to wait for anyway: every
        // operation was awaited, and abandoned reads are cancelled.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for StoreRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreRuntime")
            .field("workers", &self.handle.metrics().num_workers())
            .finish()
    }
}
