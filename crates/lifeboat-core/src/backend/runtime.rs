//! The small Tokio runtime every network-storage call runs on. The engine
//! is synchronous; a backend hands its call to this runtime and the calling
//! thread waits, so network backends work from any thread, inside an async
//! runtime or not.

use std::future::Future;
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lifeboat-storage")
            .enable_all()
            .build()
            .expect("starting the storage runtime")
    })
}

/// Runs `call` to completion on the storage runtime; None if it panicked.
pub(super) fn block_on<T: Send + 'static>(call: impl Future<Output = T> + Send + 'static) -> Option<T> {
    let (done, result) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = done.send(call.await);
    });
    result.recv().ok()
}
