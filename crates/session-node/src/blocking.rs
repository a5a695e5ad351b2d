//! A bounded pool for work that touches SQLite.
//!
//! tokio's blocking pool starts a thread per waiting job (up to 512, 2 MiB of stack each), so a
//! node at its connection cap would run thousands of threads that only queue for the same
//! database. Here at most `threads` jobs run at once, at most `queue` more wait, and any job
//! beyond that is refused at once with HTTP 503, which clients retry elsewhere.
//!
//! The pool of the node serving a request is found through a task-local set by the HTTPS
//! server ([`BlockingPool::scope`]); work started outside any scope (tools, tests that drive an
//! executor directly) shares one process-wide pool of the default size.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use crate::error::RpcError;

/// Threads of the process-wide pool used outside any node's scope.
const DEFAULT_THREADS: usize = 16;
/// Waiting jobs of the process-wide pool.
const DEFAULT_QUEUE: usize = 1024;

tokio::task_local! {
    static CURRENT: Arc<BlockingPool>;
}

/// At most `threads` database jobs at once and `queue` waiting; more are refused.
#[derive(Debug)]
pub struct BlockingPool {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    threads: usize,
}

impl BlockingPool {
    /// A pool of `threads` workers (at least 1) with room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        Self {
            running: Arc::new(Semaphore::new(threads)),
            admitted: Arc::new(Semaphore::new(threads.saturating_add(queue))),
            threads,
        }
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on a worker thread, or refuses it with 503 when the queue is full.
    pub async fn run<T, F>(&self, job: F) -> Result<T, RpcError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| {
            RpcError::new(
                503,
                "node busy: too much database work is waiting; retry shortly or use another node",
            )
        })?;
        let worker = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RpcError::new(503, "node is shutting down"))?;
        // The permits travel with the job: a caller that gives up does not free a thread
        // that is still working.
        tokio::task::spawn_blocking(move || {
            let _held = (admitted, worker);
            job()
        })
        .await
        .map_err(|_| RpcError::new(500, "internal error"))
    }

    /// Runs `future` with this pool as the one [`run`] uses.
    pub async fn scope<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

/// Runs `job` on the pool of the current scope (the node serving this request), or on the
/// process-wide one.
pub async fn run<T, F>(job: F) -> Result<T, RpcError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let pool = CURRENT
        .try_with(Arc::clone)
        .unwrap_or_else(|_| process_pool().clone());
    pool.run(job).await
}

fn process_pool() -> &'static Arc<BlockingPool> {
    static POOL: OnceLock<Arc<BlockingPool>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(BlockingPool::new(DEFAULT_THREADS, DEFAULT_QUEUE)))
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_at_most_threads_at_once_and_refuses_beyond_the_queue() {
        let pool = Arc::new(BlockingPool::new(2, 3));
        let busy = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..5 {
            let (pool, busy, peak) = (pool.clone(), busy.clone(), peak.clone());
            jobs.spawn(async move {
                pool.run(move || {
                    let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                    busy.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // 2 running and 3 waiting: the sixth is refused at once.
        let refused = pool.run(|| ()).await.unwrap_err();
        assert_eq!(refused.status, 503);
        while let Some(done) = jobs.join_next().await {
            done.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        pool.run(|| ()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_scope_picks_the_pool() {
        let pool = Arc::new(BlockingPool::new(1, 0));
        let holder = pool.clone();
        let long = tokio::spawn(async move {
            holder
                .run(|| std::thread::sleep(Duration::from_millis(300)))
                .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Inside the scope the full pool refuses; outside it the process-wide pool serves.
        let inside = pool.clone().scope(run(|| 7)).await;
        assert_eq!(inside.unwrap_err().status, 503);
        assert_eq!(run(|| 7).await.unwrap(), 7);
        long.await.unwrap().unwrap();
    }
}
