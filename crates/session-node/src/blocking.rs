//! A bounded pool for work that touches SQLite.
//!
//! tokio's blocking pool starts a thread per waiting job (up to 512, 2 MiB of stack each), so a
//! node at its connection cap would run hundreds of threads that only queue for the same
//! database. Here a fixed set of `threads` worker threads runs the jobs, at most `queue` more
//! wait, and any job beyond that is refused at once with HTTP 503, which clients retry
//! elsewhere.
//!
//! The pool of the node serving a request is found through a task-local set by the HTTPS
//! server ([`BlockingPool::scope`]); work started outside any scope (tools, tests that drive an
//! executor directly) shares one process-wide pool of the default size.

use std::future::Future;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::RpcError;

/// Threads of the process-wide pool used outside any node's scope.
const DEFAULT_THREADS: usize = 16;
/// Waiting jobs of the process-wide pool.
const DEFAULT_QUEUE: usize = 1024;

tokio::task_local! {
    static CURRENT: Arc<BlockingPool>;
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of worker threads with a bounded queue; jobs beyond it are refused.
pub struct BlockingPool {
    jobs: SyncSender<Job>,
    threads: usize,
}

impl std::fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl BlockingPool {
    /// Starts `threads` workers (at least 1) with room for `queue` waiting jobs. The workers
    /// stop when the pool is dropped.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, waiting) = sync_channel::<Job>(queue);
        let waiting = Arc::new(Mutex::new(waiting));
        for i in 0..threads.max(1) {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("session-db-{i}"))
                .spawn(move || work(&waiting))?;
        }
        Ok(Self {
            jobs,
            threads: threads.max(1),
        })
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
        let (done, result) = tokio::sync::oneshot::channel();
        let wrapped: Job = Box::new(move || {
            let _ = done.send(job());
        });
        match self.jobs.try_send(wrapped) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(RpcError::new(
                503,
                "node busy: too much database work is waiting; retry shortly or use another node",
            )),
            Err(TrySendError::Disconnected(_)) => {
                return Err(RpcError::new(503, "node is shutting down"))
            }
        }
        // A job that panicked drops `done`: the request fails, the worker lives on.
        result
            .await
            .map_err(|_| RpcError::new(500, "internal error"))
    }

    /// Runs `future` with this pool as the one [`run`] uses.
    pub async fn scope<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

/// A worker: runs jobs until the pool is dropped.
fn work(waiting: &Mutex<Receiver<Job>>) {
    loop {
        let job = match waiting.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

/// Runs `job` on the pool of the current scope (the node serving this request), or on the
/// process-wide one.
pub async fn run<T, F>(job: F) -> Result<T, RpcError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match CURRENT.try_with(Arc::clone) {
        Ok(pool) => pool.run(job).await,
        Err(_) => match process_pool() {
            Some(pool) => pool.run(job).await,
            None => Err(RpcError::new(503, "no database threads could be started")),
        },
    }
}

fn process_pool() -> Option<&'static BlockingPool> {
    static POOL: OnceLock<Option<BlockingPool>> = OnceLock::new();
    POOL.get_or_init(|| BlockingPool::new(DEFAULT_THREADS, DEFAULT_QUEUE).ok())
        .as_ref()
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_at_most_threads_at_once_and_refuses_beyond_the_queue() {
        let pool = Arc::new(BlockingPool::new(2, 3).unwrap());
        // Let the workers start and wait for jobs.
        tokio::time::sleep(Duration::from_millis(50)).await;
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
            // One at a time, so that each idle worker has taken its job before the next.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(busy.load(Ordering::SeqCst), 2);
        // 2 running and 3 waiting: the sixth is refused at once.
        let refused = pool.run(|| ()).await.unwrap_err();
        assert_eq!(refused.status, 503);
        while let Some(done) = jobs.join_next().await {
            done.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        pool.run(|| ()).await.unwrap();
        // A job that panics fails its request only; the worker keeps serving.
        assert_eq!(pool.run(|| panic!("a bug")).await.unwrap_err().status, 500);
        assert_eq!(pool.run(|| 5).await.unwrap(), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_scope_picks_the_pool() {
        let pool = Arc::new(BlockingPool::new(1, 0).unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
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
