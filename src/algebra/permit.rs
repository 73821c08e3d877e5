//! Where symbolica keeps its per-user permit, and tally's lock beside it.
//!
//! symbolica's free mode lets one thread per user hold its permit; a second thread or process that
//! touches symbolica meanwhile is aborted. symbolica keeps that permit as a locked file in a
//! directory it picks from the environment. tally queues its own runs with an exclusive lock on a
//! file in *that same directory*, so two runs that see different environments (another TMPDIR,
//! another working directory) still meet at the same lock — and the directory is checked before
//! symbolica starts, because symbolica aborts when it cannot use it.
//!
//! The lock is also a boundary between users: it lives in a private directory (0700, owned by the
//! user, no symlinks), the file is opened without following links and checked to be a regular file
//! owned by the user, and a run that waits says so on stderr.

use std::ffi::OsString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The name symbolica 3.0 gives its permit file inside its lock directory (observed with
/// `strace -f -e trace=openat,flock`). tally creates and checks it before symbolica opens it.
const SYMBOLICA_PERMIT_FILE: &str = "symbolica-restricted-thread-0.lock";

/// tally's own lock file, beside symbolica's permit.
const TALLY_LOCK_FILE: &str = "tally.lock";

/// How long a run waits quietly before saying that it waits.
const QUIET_WAIT: Duration = Duration::from_secs(1);

/// Why the per-user lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// No directory for the permit could be found in the environment.
    #[error("cannot find a directory for symbolica's per-user permit: {0}")]
    NoDirectory(String),
    /// The directory or lock file exists but is not safe or not usable.
    #[error("cannot use `{path}` for symbolica's per-user permit: {reason}")]
    Unusable {
        /// The path at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Another run held the lock for longer than `--wait-timeout`.
    #[error("gave up after {waited:.1} s waiting for another tally run{holder} (lock `{path}`)")]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// ` (pid N)` when the holder is known, else empty.
        holder: String,
        /// Seconds waited.
        waited: f64,
    },
}

/// How long to wait for another run, and where to say that we wait.
pub struct WaitPolicy<'a> {
    /// `None` waits as long as it takes.
    pub timeout: Option<Duration>,
    /// Called once, after [`QUIET_WAIT`], with a one-line notice.
    pub notice: &'a dyn Fn(&str),
}

/// The held lock; released when dropped (closing the file releases the `flock`).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    /// Where it lives.
    pub path: PathBuf,
}

/// The directory symbolica uses for its permit, from the environment as symbolica reads it:
/// `$XDG_RUNTIME_DIR/symbolica/locks` if that is an absolute path, else
/// `$XDG_CACHE_HOME/symbolica/locks` if absolute, else `$HOME/.cache/symbolica/locks` (the
/// account's home directory from the password database when HOME is unset or empty).
pub fn permit_dir(env: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf, LockError> {
    let absolute = |name: &str| env(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let base = if let Some(runtime) = absolute("XDG_RUNTIME_DIR") {
        runtime
    } else if let Some(cache) = absolute("XDG_CACHE_HOME") {
        cache
    } else {
        let home = match env("HOME").filter(|h| !h.is_empty()) {
            Some(h) => PathBuf::from(h),
            None => account_home().ok_or_else(|| {
                LockError::NoDirectory("HOME is not set and the account has no home directory".into())
            })?,
        };
        if !home.is_absolute() {
            return Err(LockError::NoDirectory(format!(
                "HOME (`{}`) is not an absolute path; set HOME or XDG_CACHE_HOME to an absolute directory",
                home.display()
            )));
        }
        home.join(".cache")
    };
    Ok(base.join("symbolica").join("locks"))
}

/// The home directory of the current user from the password database.
fn account_home() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `entry` and `buffer`, both valid for the lengths given.
    let status =
        unsafe { libc::getpwuid_r(libc::getuid(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut result) };
    if status != 0 || result.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points at a NUL-terminated string inside `buffer`.
    let dir = unsafe { std::ffi::CStr::from_ptr(entry.pw_dir) };
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes()));
    (!path.as_os_str().is_empty()).then_some(path)
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

fn unusable(path: &Path, reason: impl Into<String>) -> LockError {
    LockError::Unusable { path: path.to_path_buf(), reason: reason.into() }
}

/// Creates `dir` (and its parents) if missing, then checks that the two directories tally and
/// symbolica own (`symbolica/` and `symbolica/locks/`) are real directories, owned by this user
/// and writable by nobody else, and that the base directory above them cannot be swapped by
/// another user.
fn prepare_dir(dir: &Path) -> Result<(), LockError> {
    // The base (the runtime or cache directory) is the user's: tally creates folders inside it,
    // never the base itself — except a missing `.cache` inside an existing home, as XDG asks.
    if let Some(base) = dir.parent().and_then(Path::parent)
        && std::fs::symlink_metadata(base).is_err()
    {
        let home = base.parent().filter(|h| base.file_name() == Some(".cache".as_ref()) && h.is_dir());
        if home.is_none() {
            return Err(unusable(
                base,
                "it does not exist, and tally does not create a home or cache directory; set HOME or XDG_CACHE_HOME to an existing directory",
            ));
        }
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
        unusable(dir, format!("it cannot be created ({e}); set XDG_CACHE_HOME or HOME to a writable directory"))
    })?;
    let me = uid();
    let owned = [dir.to_path_buf(), dir.parent().map(Path::to_path_buf).unwrap_or_default()];
    for path in &owned {
        let meta = std::fs::symlink_metadata(path).map_err(|e| unusable(path, e.to_string()))?;
        if meta.file_type().is_symlink() {
            return Err(unusable(path, "it is a symbolic link; tally keeps its lock in a real directory"));
        }
        if !meta.is_dir() {
            return Err(unusable(path, "it is not a directory"));
        }
        if meta.uid() != me {
            return Err(unusable(path, format!("it belongs to uid {}, not to you (uid {me})", meta.uid())));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(unusable(
                path,
                format!("other users can write to it (mode {:o}); run `chmod 700` on it", meta.mode() & 0o777),
            ));
        }
    }
    if let Some(base) = owned[1].parent() {
        // Whoever owns the base can rename the folders inside it: it must be the caller's or
        // root's (a `sudo -E` that keeps another user's XDG_RUNTIME_DIR is refused here).
        let meta = std::fs::metadata(base).map_err(|e| unusable(base, e.to_string()))?;
        if meta.uid() != me && meta.uid() != 0 {
            return Err(unusable(
                base,
                format!(
                    "it belongs to uid {}, not to you (uid {me}) or root, so its owner could swap the lock folder; unset XDG_RUNTIME_DIR or set XDG_CACHE_HOME to a directory of yours",
                    meta.uid()
                ),
            ));
        }
        let shared_writable = meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0;
        if meta.uid() != me && shared_writable {
            return Err(unusable(base, "others can write to it and it has no sticky bit"));
        }
    }
    // A read-only file system lets the directory exist but nothing be created in it.
    // SAFETY: access() only reads the NUL-terminated path.
    let c_path =
        std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| unusable(dir, e.to_string()))?;
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(unusable(dir, format!("it is not writable ({e})")));
    }
    Ok(())
}

/// Opens (creating if needed) a lock file without following links, and checks it is a regular file
/// owned by this user with a single name.
fn open_private(path: &Path) -> Result<File, LockError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => unusable(path, "it is a symbolic link; tally will not follow it"),
            _ => unusable(path, e.to_string()),
        })?;
    let meta = file.metadata().map_err(|e| unusable(path, e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(unusable(path, "it is not a regular file"));
    }
    if meta.uid() != uid() {
        return Err(unusable(path, format!("it belongs to uid {}, not to you (uid {})", meta.uid(), uid())));
    }
    if meta.nlink() != 1 {
        return Err(unusable(path, "it has other hard links"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(unusable(path, "other users can read or write it; remove it and run again"));
    }
    Ok(file)
}

/// Takes the per-user lock in `dir` (symbolica's permit directory): prepares and checks the
/// directory and symbolica's permit file, then waits for tally's lock file as `policy` says.
pub fn acquire(dir: &Path, policy: &WaitPolicy) -> Result<Lock, LockError> {
    prepare_dir(dir)?;
    // symbolica opens its permit file itself; making sure now that it can be opened turns what
    // would be an abort into a message.
    drop(open_private(&dir.join(SYMBOLICA_PERMIT_FILE))?);
    let path = dir.join(TALLY_LOCK_FILE);
    let mut file = open_private(&path)?;
    let start = Instant::now();
    let mut told = false;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(unusable(&path, e.to_string())),
        }
        let waited = start.elapsed();
        let holder = holder_pid(&mut file).map(|p| format!(" (pid {p})")).unwrap_or_default();
        if let Some(limit) = policy.timeout
            && waited >= limit
        {
            return Err(LockError::Timeout { path, holder, waited: waited.as_secs_f64() });
        }
        if !told && waited >= QUIET_WAIT {
            (policy.notice)(&format!(
                "waiting for another tally run{holder} to finish with symbolica (lock `{}`) …",
                path.display()
            ));
            told = true;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    // Name the holder for anyone who waits next.
    let _ = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| write!(file, "{}", std::process::id()));
    Ok(Lock { _file: file, path })
}

fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| owned.iter().find(|(k, _)| k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_runtime_dir_wins_then_the_cache_dir_then_home() {
        let dir = |pairs: &[(&str, &str)]| permit_dir(&env_of(pairs)).unwrap();
        let all = [("XDG_RUNTIME_DIR", "/run/user/7"), ("XDG_CACHE_HOME", "/c"), ("HOME", "/h")];
        assert_eq!(dir(&all), PathBuf::from("/run/user/7/symbolica/locks"));
        assert_eq!(dir(&all[1..]), PathBuf::from("/c/symbolica/locks"));
        assert_eq!(dir(&all[2..]), PathBuf::from("/h/.cache/symbolica/locks"));
    }

    #[test]
    fn relative_xdg_paths_are_ignored_and_a_relative_home_is_refused() {
        let pairs = [("XDG_RUNTIME_DIR", "run"), ("XDG_CACHE_HOME", ""), ("HOME", "/h")];
        assert_eq!(permit_dir(&env_of(&pairs)).unwrap(), PathBuf::from("/h/.cache/symbolica/locks"));
        let err = permit_dir(&env_of(&[("HOME", "home")])).unwrap_err();
        assert!(err.to_string().contains("not an absolute path"), "{err}");
    }

    #[test]
    fn an_unset_home_falls_back_to_the_account() {
        let dir = permit_dir(&env_of(&[])).unwrap();
        assert!(dir.is_absolute() && dir.ends_with(".cache/symbolica/locks"), "{}", dir.display());
    }
}
