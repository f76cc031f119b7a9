//! A bounded pool for CPU work (decoding, warping, post-processing, encoding), so that the
//! async threads only do I/O and an overloaded server refuses work instead of queueing it
//! without bound.
//!
//! Jobs run on tokio's blocking threads, at most `threads` at once; at most `queue` more
//! wait for a turn. A job that finds the queue full fails at once with
//! [`Error::Overloaded`] (a server answers 503 with `Retry-After`). A waiting job whose
//! caller goes away (a client hung up) leaves the queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    threads: usize,
    queue: usize,
}

impl Default for CpuPool {
    /// One thread per core, 64 jobs waiting per thread.
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        CpuPool::new(threads, 64 * threads)
    }
}

/// Leaves the queue when dropped, whether the job got its turn or its caller went away.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CpuPool {
    /// `threads` jobs at once (at least 1), `queue` more waiting.
    pub fn new(threads: usize, queue: usize) -> CpuPool {
        let threads = threads.max(1);
        CpuPool { permits: Arc::new(Semaphore::new(threads)), waiting: Default::default(), threads, queue }
    }

    /// Run `job` on the pool.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(Error::Overloaded);
                }
                let _waiting = Waiting(&self.waiting);
                self.permits.clone().acquire_owned().await.map_err(|_| Error::Overloaded)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|e| Error::Internal(format!("a CPU job failed: {e}")))
    }

    /// `run` for jobs that fail.
    pub async fn try_run<T: Send + 'static>(&self, job: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        self.run(job).await?
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.threads - self.permits.available_permits()
    }

    /// Jobs waiting for a turn.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_and_a_freed_one_accepts() {
        let pool = CpuPool::new(1, 1);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        // One job runs (and blocks until released), one waits: the third is refused.
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move || hold.recv().is_ok()).await }
        });
        while pool.running() < 1 {
            tokio::task::yield_now().await;
        }
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 2).await }
        });
        while pool.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(pool.run(|| 3).await, Err(Error::Overloaded)));
        release.send(()).unwrap();
        assert!(running.await.unwrap().unwrap());
        assert_eq!(waiting.await.unwrap().unwrap(), 2);
        assert_eq!((pool.running(), pool.waiting()), (0, 0));
        assert_eq!(pool.run(|| 4).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_leaves_the_queue() {
        let pool = CpuPool::new(1, 4);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move || hold.recv().is_ok()).await }
        });
        while pool.running() < 1 {
            tokio::task::yield_now().await;
        }
        let gone = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| ()).await }
        });
        while pool.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        assert_eq!(pool.waiting(), 0);
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
    }
}
