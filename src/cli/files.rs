//! Files as the command line meets them: inputs read only when they are regular files of a
//! sensible size (a FIFO would block forever, `/dev/zero` would fill memory), and outputs written
//! atomically (a temporary file in the same directory, renamed over the target), never over one
//! of the run's own inputs.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
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

    /// Checks, before any work, that `path` can take the output: not one of this run's inputs
    /// and not something other than a regular file.
    pub fn check_output(&self, path: &Path) -> Result<(), Error> {
        let fail = |reason: String| Error::Output { path: path.display().to_string(), reason };
        if let Ok(meta) = std::fs::metadata(path) {
            if let Some((input, _)) = self.read.iter().find(|(_, id)| *id == (meta.dev(), meta.ino())) {
                return Err(fail(format!(
                    "it is the input `{}` of this run; write the output to another file",
                    input.display()
                )));
            }
            if !meta.is_file() {
                return Err(fail("it exists and is not a regular file".into()));
            }
        }
        Ok(())
    }

    /// Writes `text` to `path` atomically: to a temporary file beside it, flushed to disk, then
    /// renamed over it, so an interrupted or failed write leaves the old file as it was. Refuses to
    /// replace a file this run read.
    pub fn write(&self, path: &Path, text: &str) -> Result<(), Error> {
        self.check_output(path)?;
        let shown = path.display().to_string();
        let fail = |reason: String| Error::Output { path: shown.clone(), reason };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".tally-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| fail(format!("cannot create a temporary file in {}: {e}", dir.display())))?;
        temp.write_all(text.as_bytes()).and_then(|_| temp.as_file().sync_all()).map_err(|e| fail(e.to_string()))?;
        temp.persist(path).map_err(|e| fail(e.error.to_string()))?;
        Ok(())
    }
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
