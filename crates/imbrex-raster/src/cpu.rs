//! A bounded pool for CPU work (decoding, warping, post-processing, encoding), so that the
//! async threads only do I/O and an overloaded server refuses work instead of queueing it
//! without bound.
//!
//! `threads` dedicated threads take jobs from one queue of at most `queue` jobs. A job that
//! finds the queue full fails at once with [`Error::Overloaded`] (a server answers 503 with
//! `Retry-After`). A queued job whose caller went away (a client hung up) is skipped.
//!
//! A running job whose caller went away (a request past its deadline) can tell, through
//! [`abandoned`], and long loops (the warp kernel's rows) stop early: nobody will see what
//! they would make.
//!
//! Dedicated threads, not tokio's blocking pool behind a semaphore: a thread that finishes
//! a job takes the next one itself, where a semaphore hands each turn back through an async
//! task that then wakes a blocking thread; on 2 cores those hops cost about a fifth of the
//! tile throughput (`scripts/bench raster`: 911 vs 1,168 DEM tiles/s).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// Whether the caller of the job running on this thread went away.
    static CALLER_GONE: RefCell<Option<Box<dyn Fn() -> bool>>> = const { RefCell::new(None) };
}

/// True inside a pool job whose caller no longer waits for it (dropped: a deadline passed,
/// a client hung up). Its result will be thrown away, so loops may stop and return
/// anything. Always false outside the pool.
pub fn abandoned() -> bool {
    CALLER_GONE.with(|c| c.borrow().as_ref().is_some_and(|gone| gone()))
}

/// A handle on the pool; clones share it. The threads end when the last handle is dropped.
#[derive(Clone)]
pub struct CpuPool {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Sender<Job>,
    running: Arc<AtomicUsize>,
    threads: usize,
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool")
            .field("threads", &self.inner.threads)
            .field("running", &self.running())
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Default for CpuPool {
    /// One thread per core, 64 jobs waiting per thread.
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        CpuPool::new(threads, 64 * threads)
    }
}

impl CpuPool {
    /// `threads` threads (at least 1), `queue` jobs waiting (at least 1).
    pub fn new(threads: usize, queue: usize) -> CpuPool {
        let threads = threads.max(1);
        let (jobs, rx) = crossbeam_channel::bounded::<Job>(queue.max(1));
        let running = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let (rx, running): (Receiver<Job>, _) = (rx.clone(), running.clone());
            std::thread::Builder::new()
                .name(format!("imbrex-cpu-{i}"))
                .spawn(move || {
                    for job in rx {
                        running.fetch_add(1, Ordering::Relaxed);
                        job();
                        running.fetch_sub(1, Ordering::Relaxed);
                    }
                })
                .expect("a thread of the CPU pool starts");
        }
        CpuPool { inner: Arc::new(Inner { jobs, running, threads }) }
    }

    /// Run `job` on the pool.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            if tx.is_closed() {
                return;
            }
            let tx = Rc::new(tx);
            let watched = tx.clone();
            CALLER_GONE.with(|c| *c.borrow_mut() = Some(Box::new(move || watched.is_closed())));
            // A panic is the job's own failure: the thread lives on, the caller gets an error.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            CALLER_GONE.with(|c| c.borrow_mut().take());
            if let Ok(tx) = Rc::try_unwrap(tx) {
                let _ = tx.send(out);
            }
        });
        match self.inner.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(Error::Internal("the CPU pool has stopped".into())),
        }
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(Error::Internal("a CPU job panicked".into())),
            Err(_) => Err(Error::Internal("a CPU job was dropped".into())),
        }
    }

    /// `run` for jobs that fail.
    pub async fn try_run<T: Send + 'static>(&self, job: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        self.run(job).await?
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a thread.
    pub fn waiting(&self) -> usize {
        self.inner.jobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wait (politely) until `f` holds.
    async fn until(f: impl Fn() -> bool) {
        while !f() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_and_a_freed_one_accepts() {
        let pool = CpuPool::new(1, 1);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        // One job runs (and blocks until released), one waits: the third is refused.
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move || hold.recv().is_ok()).await }
        });
        until(|| pool.running() == 1).await;
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 2).await }
        });
        until(|| pool.waiting() == 1).await;
        assert!(matches!(pool.run(|| 3).await, Err(Error::Overloaded)));
        release.send(()).unwrap();
        assert!(running.await.unwrap().unwrap());
        assert_eq!(waiting.await.unwrap().unwrap(), 2);
        assert_eq!(pool.run(|| 4).await.unwrap(), 4);
        // The counter drops just after the result is sent.
        until(|| pool.running() == 0).await;
        assert_eq!(pool.waiting(), 0);
    }

    #[tokio::test]
    async fn a_job_whose_caller_went_away_is_skipped() {
        let pool = CpuPool::new(1, 4);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move || hold.recv().is_ok()).await }
        });
        until(|| pool.running() == 1).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let gone = tokio::spawn({
            let (pool, ran) = (pool.clone(), ran.clone());
            async move { pool.run(move || ran.fetch_add(1, Ordering::Relaxed)).await }
        });
        until(|| pool.waiting() == 1).await;
        gone.abort();
        let _ = gone.await;
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        // The next job runs after the abandoned one was taken off the queue.
        pool.run(|| ()).await.unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_running_job_sees_that_its_caller_went_away() {
        let pool = CpuPool::new(1, 4);
        let stopped = Arc::new(AtomicUsize::new(0));
        let job = tokio::spawn({
            let (pool, stopped) = (pool.clone(), stopped.clone());
            async move {
                pool.run(move || {
                    let watched_at_start = abandoned();
                    while !abandoned() {
                        std::thread::yield_now();
                    }
                    stopped.fetch_add(1 + usize::from(watched_at_start), Ordering::Relaxed);
                })
                .await
            }
        });
        until(|| pool.running() == 1).await;
        job.abort();
        let _ = job.await;
        // The loop ended because the caller left, and had not seen it leave before.
        until(|| stopped.load(Ordering::Relaxed) == 1).await;
        assert!(!pool.run(abandoned).await.unwrap(), "a waited-for job is not abandoned");
        assert!(!abandoned(), "outside the pool nothing is abandoned");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_lives_on() {
        let pool = CpuPool::new(1, 4);
        assert!(matches!(pool.run(|| panic!("a bug")).await, Err(Error::Internal(_))));
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
    }
}
