//! The one-thread-per-user rule of symbolica's free mode, enforced: an exclusive per-user lock file,
//! all algebra on one worker thread that is joined before the lock is released (symbolica's permit
//! belongs to the thread), and symbolica's first-use banner routed to stderr so stdout stays
//! machine-readable.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Once;

/// Where the per-user lock lives: the temp dir, named with the uid.
pub fn lock_path() -> PathBuf {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("tally-symbolica-{uid}.lock"))
}

/// Runs `work` on a fresh worker thread while holding the per-user symbolica lock.
///
/// The lock is taken before the thread starts and released only after it has been joined, so at
/// most one thread of this user holds symbolica's permit at any moment, across processes.
pub fn exclusive<R, F>(work: F) -> std::io::Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let file = File::options().create(true).truncate(false).write(true).open(lock_path())?;
    file.lock()?;
    let worker = std::thread::Builder::new().name("tally-algebra".into()).spawn(move || {
        banner_to_stderr();
        work()
    })?;
    let outcome = worker.join();
    file.unlock()?;
    match outcome {
        Ok(r) => Ok(r),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Makes symbolica's first call with fd 1 pointing at fd 2, so its licensing banner (printed on
/// first use unless `SYMBOLICA_HIDE_BANNER` is set) reaches the terminal on stderr, not stdout.
fn banner_to_stderr() {
    static FIRST_USE: Once = Once::new();
    FIRST_USE.call_once(|| {
        let _ = std::io::stdout().flush();
        // SAFETY: plain descriptor duplication on fds 1 and 2, restored before returning.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 {
            super::engine::warm_up();
            return;
        }
        unsafe { libc::dup2(2, 1) };
        super::engine::warm_up();
        let _ = std::io::stdout().flush();
        unsafe {
            libc::dup2(saved, 1);
            libc::close(saved);
        }
    });
}
