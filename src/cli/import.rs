//! Hugging Face configs on the command line: `--hf-config PATH` (a config.json or a folder holding
//! one) for any command that takes a model, and `tally import`, which writes the tally model file
//! a config becomes.

use super::args::ModelArgs;
use super::files::Inputs;
use std::path::{Path, PathBuf};
use tally::diagnostic::Source;
use tally::error::Error;

/// The model of a command: a Hugging Face config imported as a model file when `--hf-config` is
/// given, else the built-in name or model file `name` (`FILE.toml[:PRESET]`).
pub fn model_source(
    model: &ModelArgs,
    name: &str,
    data: &tally::data::Data,
    inputs: &mut Inputs,
) -> Result<(Option<Source>, Option<String>), Error> {
    let Some(path) = &model.hf_config else {
        return super::model_file(name, model.preset.clone(), data, inputs);
    };
    if let Some(m) = &model.model {
        return Err(Error::Usage(format!("two models given: `{m}` with --model and a config with --hf-config")));
    }
    let (source, preset) = imported(path, data, inputs)?;
    Ok((Some(source), Some(preset)))
}

/// The config at `path` imported: the model file's text (named after the config) and the name of
/// its preset (the config's folder, or the file's stem).
fn imported(path: &Path, data: &tally::data::Data, inputs: &mut Inputs) -> Result<(Source, String), Error> {
    let file: PathBuf = if path.is_dir() { path.join("config.json") } else { path.to_path_buf() };
    let config = inputs.read(&file)?;
    let preset = preset_name(&file);
    let imported = tally::model::hf::import(&config, &preset, &data.hf_families, &data.symbols)?;
    let name = format!("{} (imported as {})", config.name, imported.family);
    Ok((Source { name, text: imported.text }, preset))
}

/// `tally import --hf-config PATH [--output FILE]`: the model file, with where it came from.
pub fn import(path: &Path, data: &tally::data::Data, inputs: &mut Inputs) -> Result<String, Error> {
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
