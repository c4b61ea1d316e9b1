//! Answering within a budget: a panic inside a future becomes an error, so that it becomes a
//! verdict, and the stage a decision is working on is recorded, so that one that runs out of
//! time names what did not finish.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Runs a future; a panic inside it resolves to `Err(message)` instead of unwinding further.
pub struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

impl<F> CatchUnwind<F> {
    pub fn new(future: F) -> Self {
        CatchUnwind { inner: Box::pin(future) }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().inner;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

tokio::task_local! {
    /// What the current decision is doing, for the message of one that runs out of time.
    static PROGRESS: Progress;
}

/// What a decision was last doing, shared with whoever waits for it: when the time is up,
/// the answer names the stage that did not finish.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<Mutex<Option<String>>>);

impl Progress {
    /// Runs `future` with its stages recorded here.
    pub async fn watch<F: Future>(&self, future: F) -> F::Output {
        PROGRESS.scope(self.clone(), future).await
    }

    /// The last stage recorded, if any.
    pub fn last(&self) -> Option<String> {
        self.0.lock().ok().and_then(|stage| stage.clone())
    }

    /// Records a stage.
    pub fn set(&self, stage: String) {
        if let Ok(mut current) = self.0.lock() {
            *current = Some(stage);
        }
    }
}

/// Records what the current decision is doing, when someone watches it.
pub fn progress(stage: impl FnOnce() -> String) {
    let _ = PROGRESS.try_with(|progress| progress.set(stage()));
}

/// The message of a judgement thread that panicked (or, never here, was cancelled).
pub fn join_error_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "the judgement was cancelled".to_owned();
    }
    panic_message(error.into_panic().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        runtime().block_on(f)
    }

    #[test]
    fn passes_values_through_and_catches_panics() {
        assert_eq!(block_on(CatchUnwind::new(async { 7 })), Ok(7));
        let caught = block_on(CatchUnwind::new(async {
            tokio::task::yield_now().await;
            if true {
                panic!("boom {}", 1);
            }
        }));
        assert_eq!(caught, Err("boom 1".to_owned()));
    }

    #[test]
    fn a_panic_on_the_judgement_thread_keeps_its_message() {
        let joined = runtime().block_on(async {
            tokio::task::spawn_blocking(|| {
                if true {
                    panic!("boom {}", 2);
                }
            })
            .await
        });
        assert_eq!(join_error_message(joined.unwrap_err()), "boom 2");
    }

    #[test]
    fn progress_is_recorded_only_where_someone_watches() {
        let watched = Progress::default();
        runtime().block_on(watched.watch(async {
            tokio::task::yield_now().await;
            progress(|| "judging".to_owned());
        }));
        assert_eq!(watched.last().as_deref(), Some("judging"));
        // Outside a watch, recording is a no-op rather than a panic.
        progress(|| unreachable!("not evaluated without a watcher"));
    }
}
