//! The one-thread-per-user rule of symbolica's free mode, enforced: the per-user lock (see
//! [`super::permit`]) is taken first, then all algebra runs on one worker thread, which is joined
//! before the lock is released — symbolica's permit belongs to the thread and is let go when the
//! thread ends. symbolica's first-use banner is routed to stderr so stdout stays machine-readable.
//!
//! The worker is the only place an [`Engine`] is made, so algebra cannot run anywhere else.

use super::engine::Engine;
use super::permit::{self, Lock, LockError, WaitPolicy};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// A job for the worker: gets the engine, sends its own result back.
type Job = Box<dyn FnOnce(&Engine) + Send>;

/// How a session waits for another run of the same user.
#[derive(Clone, Debug, Default)]
pub struct WaitOptions {
    /// Give up after this long; `None` waits as long as it takes.
    pub timeout: Option<Duration>,
    /// Say nothing while waiting (the notice is printed on stderr otherwise).
    pub quiet: bool,
}

/// A held per-user lock and the thread that owns symbolica's permit. Jobs run one after another
/// on that thread; dropping the worker joins the thread, then releases the lock.
pub struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    lock: Option<Lock>,
    /// Set by the engine before its first call into symbolica: only then does the thread hold
    /// symbolica's permit (most runs never start symbolica; see `Engine::expand`).
    started_symbolica: Arc<AtomicBool>,
}

impl Worker {
    /// Takes the lock (waiting as `wait` says) and starts the worker thread.
    pub fn start(wait: &WaitOptions) -> Result<Worker, LockError> {
        let dir = permit::permit_dir(&|name| std::env::var_os(name))?;
        let quiet = wait.quiet;
        let notice = move |line: &str| {
            if !quiet {
                // A notice that cannot be written (stderr full or closed) is dropped.
                let _ = writeln!(std::io::stderr(), "tally: {line}");
            }
        };
        let lock = permit::acquire(&dir, &WaitPolicy { timeout: wait.timeout, notice: &notice })?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let started_symbolica = Arc::new(AtomicBool::new(false));
        let started = started_symbolica.clone();
        let thread = std::thread::Builder::new()
            .name("tally-algebra".into())
            .spawn(move || {
                // symbolica itself starts on the first expansion that needs it
                // (`Engine::expand_by_symbolica`): most runs never do.
                let engine = Engine::on_worker_thread(started);
                for job in queue {
                    job(&engine);
                }
            })
            .map_err(|e| LockError::Unusable { path: lock.path.clone(), reason: format!("no worker thread: {e}") })?;
        Ok(Worker { jobs: Some(jobs), thread: Some(thread), lock: Some(lock), started_symbolica })
    }

    /// Runs `work` on the worker thread and returns its result. A panic inside `work` is resumed
    /// on the caller's thread (a panic is a bug in tally, and stays one).
    pub fn run<R, F>(&self, work: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Engine) -> R + Send + 'static,
    {
        let (reply, answer) = mpsc::channel();
        let job: Job = Box::new(move |engine| {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(engine)));
            let _ = reply.send(outcome);
        });
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job).is_ok()).unwrap_or(false);
        match (sent, answer.recv()) {
            (true, Ok(Ok(r))) => r,
            (true, Ok(Err(panic))) => std::panic::resume_unwind(panic),
            _ => panic!("the algebra worker thread is gone"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop. A thread that started symbolica must be gone
        // (its permit with it) before the lock is released; one that never did holds no permit,
        // so it is left to free its memos on its own while the caller goes on. Jobs run one at a
        // time and each is waited for, so no job is running here and the flag is final.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            && self.started_symbolica.load(Ordering::SeqCst)
        {
            let _ = thread.join();
        }
        drop(self.lock.take());
    }
}

/// Runs `work` once under the lock, on a fresh worker thread that is joined before returning.
pub fn exclusive<R, F>(wait: &WaitOptions, work: F) -> Result<R, LockError>
where
    R: Send + 'static,
    F: FnOnce(&Engine) -> R + Send + 'static,
{
    let worker = Worker::start(wait)?;
    Ok(worker.run(work))
}
