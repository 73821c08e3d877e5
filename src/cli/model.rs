//! The model a command names: a built-in name, a model file (`FILE.toml[:PRESET]`), an answer
//! sheet file, or a Hugging Face config (`--hf-config PATH`, a config.json or a folder holding one);
//! and `tally import`, which writes the tally model file a config becomes.

use super::files::Inputs;
use clap::Args;
use std::path::{Path, PathBuf};
use tally::diagnostic::Source;
use tally::error::Error;
use tally::session::{Facts, Sheet};

/// The model of a command: a Hugging Face config imported as a model file when `--hf-config` is
/// given, else the built-in name or model file `name` (`FILE.toml[:PRESET]`).
pub fn model_source(
    model: &ModelArgs,
    name: &str,
    data: &Facts,
    inputs: &mut Inputs,
) -> Result<(Option<Source>, Option<String>), Error> {
    let Some(path) = &model.hf_config else {
        return model_file(name, model.preset.clone(), data, inputs);
    };
    if let Some(m) = &model.model {
        return Err(Error::Usage(format!("two models given: `{m}` with --model and a config with --hf-config")));
    }
    let (source, preset) = imported(path, data, inputs)?;
    Ok((Some(source), Some(preset)))
}

/// The config at `path` imported: the model file's text (named after the config) and the name of
/// its preset (the config's folder, or the file's stem).
fn imported(path: &Path, data: &Facts, inputs: &mut Inputs) -> Result<(Source, String), Error> {
    let file: PathBuf = if path.is_dir() { path.join("config.json") } else { path.to_path_buf() };
    let config = inputs.read(&file)?;
    let preset = preset_name(&file);
    Ok((tally::session::import_hf(&config, &preset, data)?, preset))
}

/// `tally import --hf-config PATH [--output FILE]`: the model file, with where it came from.
pub fn import(path: &Path, data: &Facts, inputs: &mut Inputs) -> Result<String, Error> {
    let (source, _) = imported(path, data, inputs)?;
    let header = format!(
        "# Imported by tally {} from {}.\n# Edit the sizes under [[preset]] or the ops; `tally derive --model THIS_FILE` reads it.\n\n",
        env!("CARGO_PKG_VERSION"),
        path.display()
    );
    Ok(format!("{header}{}", source.text))
}

/// A config's preset name: its folder for `…/NAME/config.json`, else the file's stem.
fn preset_name(file: &Path) -> String {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("config");
    let folder = file.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str());
    match (stem, folder) {
        ("config", Some(folder)) if !folder.is_empty() => folder.to_string(),
        _ => stem.to_string(),
    }
    .chars()
    .map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '-' })
    .collect()
}

/// A sheet file named as the positional argument (a TOML file with `[[part]]`s).
pub fn sheet_file(name: &str, positional: bool, inputs: &mut Inputs) -> Result<Option<Source>, Error> {
    let path = Path::new(name);
    if !positional || !name.ends_with(".toml") || !path.is_file() {
        return Ok(None);
    }
    let source = inputs.read(path)?;
    Ok(Sheet::from_toml(&source).map(|_| source))
}

/// A model file (`FILE.toml`, `FILE.toml:PRESET`) read for the session, or nothing for a
/// built-in name.
pub fn model_file(
    name: &str,
    preset: Option<String>,
    data: &Facts,
    inputs: &mut Inputs,
) -> Result<(Option<Source>, Option<String>), Error> {
    if data.models.knows(name)? || data.hf_presets.iter().any(|(n, _)| *n == name.trim().to_lowercase()) {
        return Ok((None, preset));
    }
    let (file, file_preset) = match name.rsplit_once(':') {
        Some((f, p)) if f.ends_with(".toml") && !p.contains('/') => (f, Some(p.to_string())),
        _ => (name, None),
    };
    let path = Path::new(file);
    if !(file.ends_with(".toml") || path.exists() || file.contains(std::path::MAIN_SEPARATOR)) {
        return Err(data.models.unknown(name));
    }
    if let (Some(a), Some(b)) = (&file_preset, &preset)
        && a != b
    {
        return Err(Error::Usage(format!("two presets given: `{a}` after the file name and `{b}` with --preset")));
    }
    Ok((Some(inputs.read(path)?), file_preset.or(preset)))
}

/// The model and its sizes, shared by `derive` and `audit`.
#[derive(Args)]
pub struct ModelArgs {
    /// Model: an architecture, a size preset, ARCH/PRESET, or a model file (FILE.toml or
    /// FILE.toml:PRESET) [default: gpt2-xl; for audit, a claims file's `model` first].
    #[arg(long, value_name = "NAME|FILE")]
    pub model: Option<String>,
    /// A size preset of the model (for a model file or an architecture): --preset small.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Bind a symbol, by short or long name: --set T=16384, --set context_length=16384. Repeatable.
    #[arg(long = "set", value_name = "SYMBOL=VALUE")]
    pub sets: Vec<String>,
    /// A Hugging Face config.json (or a folder holding one), imported as the model.
    #[arg(long, value_name = "PATH")]
    pub hf_config: Option<std::path::PathBuf>,
}
