//! Files as the command line meets them: inputs read only when they are regular files of a
//! sensible size (a FIFO would block forever, `/dev/zero` would fill memory), and outputs written
//! atomically (a temporary file in the same directory, renamed over the target), never over one
//! of the run's own inputs.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tally::diagnostic::Source;
use tally::error::Error;

/// The largest input file tally reads: model files, sheets and claims are a few kilobytes.
const MAX_INPUT: u64 = 4 * 1024 * 1024;

/// The files a run has read, so that its output never replaces one of them.
#[derive(Default)]
pub struct Inputs {
    read: Vec<(PathBuf, (u64, u64))>,
}

impl Inputs {
    /// Reads a text file: a regular file of at most 4 MiB, in UTF-8.
    pub fn read(&mut self, path: &Path) -> Result<Source, Error> {
        if path == Path::new("-") {
            return read_stdin();
        }
        let name = path.display().to_string();
        let io = |reason: String| Error::Io { path: name.clone(), reason };
        let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
        if !meta.is_file() {
            let kind = if meta.is_dir() { "a directory" } else { "not a regular file (a device, FIFO or socket)" };
            return Err(io(format!("it is {kind}; give the path of a text file")));
        }
        if meta.len() > MAX_INPUT {
            return Err(io(format!("it has {} bytes; tally reads input files of at most 4 MiB", meta.len())));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
            .map_err(|e| io(e.to_string()))?;
        if bytes.len() as u64 > MAX_INPUT {
            return Err(io("it grew past 4 MiB while being read".into()));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            io(format!("it is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
        })?;
        self.read.push((path.to_path_buf(), (meta.dev(), meta.ino())));
        Ok(Source { name, text })
    }

    /// Checks, before any work, that `path` can take the output: a regular file, or a name for a
    /// new one, possibly behind symbolic links — not one of this run's inputs, not a device, a
    /// FIFO or a directory, and not a file with other hard links (replacing it would cut them).
    pub fn check_output(&self, path: &Path) -> Result<(), Error> {
        self.output_target(path).map(|_| ())
    }

    /// Where the output really goes: the file `path` names after following its links, and that
    /// file's metadata when it exists.
    fn output_target(&self, path: &Path) -> Result<(PathBuf, Option<std::fs::Metadata>), Error> {
        let fail = |reason: String| Error::Output { path: path.display().to_string(), reason };
        // What the name leads to as the kernel follows it (`/dev/stdout` to a terminal or a pipe).
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            let kind = if meta.is_dir() { "a directory" } else { "a device, FIFO or socket" };
            return Err(fail(format!(
                "it is {kind}; --output writes regular files (leave --output out to write to stdout)"
            )));
        }
        let target = follow_links(path).map_err(&fail)?;
        let meta = match std::fs::symlink_metadata(&target) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(fail(e.to_string())),
        };
        if let Some(meta) = &meta {
            if let Some((input, _)) = self.read.iter().find(|(_, id)| *id == (meta.dev(), meta.ino())) {
                return Err(fail(format!(
                    "it is the input `{}` of this run; write the output to another file",
                    input.display()
                )));
            }
            if !meta.is_file() {
                let kind = if meta.is_dir() { "a directory" } else { "a device, FIFO or socket" };
                return Err(fail(format!(
                    "it is {kind}; --output writes regular files (leave --output out to write to stdout)"
                )));
            }
            if meta.nlink() > 1 {
                return Err(fail(format!(
                    "it has {} hard links, which replacing it would cut; write to another file",
                    meta.nlink()
                )));
            }
        }
        Ok((target, meta))
    }

    /// Writes `text` to the file `path` names, atomically: to a temporary file beside it, flushed
    /// to disk, then renamed over it, so an interrupted or failed write leaves the old file as it
    /// was. Symbolic links are followed, not replaced; an existing file keeps its permissions
    /// (and, where the caller may, its owner); a new file gets the umask's permissions.
    pub fn write(&self, path: &Path, text: &str) -> Result<(), Error> {
        let (target, meta) = self.output_target(path)?;
        let shown = path.display().to_string();
        let fail = |reason: String| Error::Output { path: shown.clone(), reason };
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // The mode asked for at creation is masked by the umask, as for any new file; an existing
        // file's mode is set exactly, after creation.
        let mode = meta.as_ref().map(|m| m.mode() & 0o777).unwrap_or(0o666);
        let mut temp = tempfile::Builder::new()
            .prefix(".tally-")
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(mode))
            .tempfile_in(dir)
            .map_err(|e| fail(format!("cannot create a temporary file in {}: {e}", dir.display())))?;
        if let Some(meta) = &meta {
            let file = temp.as_file();
            file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|e| fail(e.to_string()))?;
            // Keeping the owner works only for root; for anyone else the file is theirs already.
            let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
        }
        temp.write_all(text.as_bytes()).and_then(|_| temp.as_file().sync_all()).map_err(|e| fail(e.to_string()))?;
        temp.persist(&target).map_err(|e| fail(e.error.to_string()))?;
        Ok(())
    }
}

/// The path a chain of symbolic links ends at (the link's own path when it is not one), at most
/// 40 links deep, as the kernel allows; a dangling link ends at the file it would create.
fn follow_links(path: &Path) -> Result<PathBuf, String> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let next = std::fs::read_link(&current).map_err(|e| e.to_string())?;
                current = match current.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            _ => return Ok(current),
        }
    }
    Err("it is a chain of more than 40 symbolic links".into())
}

/// The data files in a user's data directory, relative to it: `*.toml` at the top and in
/// `optimizers/` and `models/`, sorted so that runs read them in the same order.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |path: &Path, e: std::io::Error| Error::Io { path: path.display().to_string(), reason: e.to_string() };
    let mut out = Vec::new();
    for sub in [Path::new(""), Path::new("optimizers"), Path::new("models")] {
        let folder = dir.join(sub);
        if !sub.as_os_str().is_empty() && !folder.is_dir() {
            continue;
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(|e| io(&folder, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .filter_map(|p| p.file_name().map(|n| sub.join(n)))
            .collect();
        names.sort();
        out.extend(names);
    }
    Ok(out)
}

/// Standard input as a source named `<stdin>`: at most 4 MiB of UTF-8 text.
fn read_stdin() -> Result<Source, Error> {
    let io = |reason: String| Error::Io { path: "<stdin>".into(), reason };
    let mut bytes = Vec::new();
    std::io::stdin().lock().take(MAX_INPUT + 1).read_to_end(&mut bytes).map_err(|e| io(e.to_string()))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(io("tally reads at most 4 MiB of input".into()));
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| io(format!("it is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    Ok(Source { name: "<stdin>".into(), text })
}
