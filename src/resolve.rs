//! Resolving a request against the facts: the user's option words become conventions (the
//! precision, layout, optimizer and hardware looked up, the parallel degrees read and checked),
//! a model name becomes an architecture with its preset, `SYMBOL=VALUE` becomes a binding. Every
//! command resolves here, so every command checks the same things the same way.

use crate::algebra::{Rational, parse_decimal, read_number};
use crate::diagnostic::Source;
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::model::Origin;
use crate::ops::FlopConvention;
use crate::options::{
    AttentionFlops, Dropout, FlopCount, Kernel, Options, Recompute, Schedule, Temporaries, Zero, bad,
};
use crate::preset::{self, Selection};
use crate::quantity::parallel::{ParallelSettings, zero_stage};
use crate::quantity::{Catalog, Conventions};
use crate::request::{DeriveRequest, List, default_model_name};
use crate::symbol::{Role, SymbolTable};
use std::collections::BTreeMap;

/// The options checked and resolved against the data.
pub fn conventions(options: &Options, data: &Facts) -> Result<Conventions> {
    let precision = data.precision(&options.precision)?.clone();
    let hardware = data.hardware(&options.hardware)?.clone();
    hardware.peak_at(&precision.name)?;
    let budget = match &options.memory {
        Some(text) => Some((text.clone(), data.units.parse_bytes(text).map_err(|e| bad("--memory", text, e))?)),
        None => None,
    };
    let reserve = match &options.reserve {
        Some(text) => Some((text.clone(), data.units.parse_bytes(text).map_err(|e| bad("--reserve", text, e))?)),
        None => None,
    };
    let tokens_per_second = match &options.tokens_per_second {
        Some(text) => Some(read_number(text).filter(|v| *v > Rational::from_integer(0.into())).ok_or_else(|| {
            bad("--tokens-per-second", text, "a throughput is a positive number (e.g. 3000 or 3,000)")
        })?),
        None => None,
    };
    let steps = read_number(&options.steps)
        .filter(|v| v.is_integer() && *v > Rational::from_integer(0.into()))
        .ok_or_else(|| bad("--steps", &options.steps, "the number of steps must be a positive whole number"))?;
    let (mfu_text, scale) = match options.mfu.trim().strip_suffix('%') {
        Some(p) => (p.trim(), Rational::new(1.into(), 100.into())),
        None => (options.mfu.trim(), Rational::from_integer(1.into())),
    };
    let mfu = parse_decimal(mfu_text)
        .map(|v| v * scale)
        .filter(|v| *v > Rational::from_integer(0.into()) && *v <= Rational::from_integer(1.into()))
        .ok_or_else(|| bad("--mfu", &options.mfu, "MFU is a fraction of peak in (0, 1] (0.5 or 50%)"))?;
    Ok(Conventions {
        flops: FlopConvention {
            elementwise: options.flops == FlopCount::All,
            causal: options.attention_flops == AttentionFlops::Causal,
            windowed: options.attention_flops == AttentionFlops::Window,
        },
        sliding_cache: options.sliding_cache,
        activations: options.activations,
        recompute: options.recompute == Recompute::Full,
        selective_recompute: options.recompute == Recompute::Selective,
        parallel: parallel(options, data)?,
        no_dropout: options.dropout == Dropout::Off,
        flash: options.attention_kernel == Kernel::Flash,
        layout: data.layout(&options.layout)?.clone(),
        optimizer: data.optimizer(&options.optimizer)?.clone(),
        precision,
        hardware,
        budget,
        reserve,
        logits_temporary: options.temporaries == Temporaries::Logits,
        tokens_per_second,
        steps,
        steps_given: options.steps != Options::default().steps,
        mfu,
        statistics_bytes: data.costs.flash_statistics_bytes,
    })
}

/// The option spelling of each degree of `--parallel`, in the order of [`Role::GPU_DEGREES`].
const DEGREE_FLAGS: [&str; 4] = ["dp", "tp", "pp", "cp"];

/// The parallel options resolved: `None` when none is given (one GPU).
pub fn parallel(options: &Options, data: &Facts) -> Result<Option<ParallelSettings>> {
    let asked = options.parallel.is_some()
        || options.micro_batches.is_some()
        || options.micro_batch_size.is_some()
        || options.virtual_stages.is_some()
        || options.zero != Zero::Stage0
        || options.sequence_parallel
        || options.distributed_optimizer
        || options.pipeline_schedule != Schedule::OneFOneB;
    if !asked {
        return Ok(None);
    }
    let bad = |option: &str, value: &str, reason: String| Error::BadOption {
        option: option.into(),
        value: value.into(),
        reason,
    };
    let whole = |option: &str, text: &str| -> Result<Rational> {
        read_number(text)
            .filter(|v| v.is_integer() && *v >= Rational::from_integer(1.into()))
            .ok_or_else(|| bad(option, text, "a positive whole number".into()))
    };
    let mut degrees: BTreeMap<String, Rational> =
        Role::DEGREES.iter().map(|r| (r.symbol().to_string(), Rational::from_integer(1.into()))).collect();
    if let Some(text) = &options.parallel {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad("--parallel", text, format!("`{part}`: write NAME=N, e.g. dp=8,tp=2")))?;
            let key = key.trim().to_lowercase();
            let value = whole("--parallel", value.trim())?;
            let repeated = text
                .split(',')
                .filter_map(|p| p.split_once('='))
                .filter(|(k, _)| k.trim().to_lowercase() == key)
                .count();
            if repeated > 1 {
                return Err(bad(
                    "--parallel",
                    text,
                    format!("`{key}` is given {repeated} times; give each degree once"),
                ));
            }
            if key == "ep" {
                if value != Rational::from_integer(1.into()) {
                    return Err(bad(
                        "--parallel",
                        text,
                        "expert parallelism needs a mixture-of-experts model; none is built in yet, so ep must be 1"
                            .into(),
                    ));
                }
                continue;
            }
            let symbol = DEGREE_FLAGS
                .iter()
                .zip(Role::GPU_DEGREES)
                .find(|(k, _)| **k == key)
                .map(|(_, r)| r.symbol())
                .ok_or_else(|| {
                    bad("--parallel", text, format!("`{key}` is not a degree; use dp, tp, pp, cp (and ep)"))
                })?;
            degrees.insert(symbol.into(), value);
        }
    }
    for (option, symbol, value) in [
        ("--micro-batches", Role::MicroBatches.symbol(), &options.micro_batches),
        ("--micro-batch-size", Role::MicroBatchSize.symbol(), &options.micro_batch_size),
        ("--virtual-stages", Role::VirtualStages.symbol(), &options.virtual_stages),
    ] {
        if let Some(text) = value {
            degrees.insert(symbol.into(), whole(option, text)?);
        }
    }
    let virtual_stages = &degrees[Role::VirtualStages.symbol()];
    if options.pipeline_schedule == Schedule::OneFOneB && *virtual_stages != Rational::from_integer(1.into()) {
        return Err(bad(
            "--virtual-stages",
            &virtual_stages.to_string(),
            "virtual stages need --pipeline-schedule interleaved".into(),
        ));
    }
    let zero = match (options.zero, options.distributed_optimizer) {
        (Zero::Stage0, true) => Zero::Stage1,
        (z, _) => z,
    };
    let convention =
        data.zero.iter().find(|c| c.name == options.zero_convention.to_lowercase()).cloned().ok_or_else(|| {
            let known: Vec<&str> = data.zero.iter().map(|c| c.name.as_str()).collect();
            bad("--zero-convention", &options.zero_convention, format!("known: {}", known.join(", ")))
        })?;
    let stage = zero_stage(zero);
    if convention.terms.is_none() && !convention.total.contains_key(&stage) {
        let stages: Vec<String> = convention.total.keys().map(|s| s.to_string()).collect();
        return Err(bad(
            "--zero-convention",
            &convention.name,
            format!("it estimates ZeRO stage {} only; this run asks for stage {stage}", stages.join(" and ")),
        ));
    }
    Ok(Some(ParallelSettings {
        degrees,
        zero,
        convention,
        sequence_parallel: options.sequence_parallel,
        schedule: options.pipeline_schedule,
        overlap: options.overlap,
    }))
}

/// What the data holds of one kind, as (name, one-line summary) rows. Quantities are those of
/// the default model under the default conventions.
pub fn listing(data: &Facts, what: List) -> Result<Vec<(String, String)>> {
    Ok(match what {
        List::Models => {
            let mut rows = data.models.listing();
            // Models tally knows by their Hugging Face config, imported when chosen.
            for (name, config) in &data.hf_presets {
                let family = serde_json::from_str::<serde_json::Value>(&config.text)
                    .ok()
                    .and_then(|c| c.get("model_type").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default();
                rows.push((name.clone(), format!("Hugging Face config ({family}), imported")));
            }
            rows
        }
        List::Sheets => data.sheets.iter().map(|s| (s.name().to_string(), s.title().to_string())).collect(),
        List::Hardware => data.hardware.iter().map(|h| (h.name.clone(), h.describe())).collect(),
        List::Symbols => {
            data.symbols.all().iter().map(|s| (format!("{} {}", s.short, s.long), s.meaning.clone())).collect()
        }
        List::Quantities => {
            let selection = select(data, default_model_name(), None, None)?;
            let conventions = conventions(&Options::default(), data)?;
            Catalog::new(&selection.model, &conventions).listing()
        }
        List::Optimizers => data.optimizers.iter().map(|o| (o.name.clone(), o.describe())).collect(),
        List::Precisions => data.precisions.iter().map(|p| (p.name.clone(), p.describe())).collect(),
    })
}

/// Whether `name` is a built-in answer sheet.
pub fn is_sheet(data: &Facts, name: &str) -> bool {
    data.sheet(name).is_some()
}

/// The model, bindings and conventions of a request.
pub fn prepare(
    data: &Facts,
    request: &DeriveRequest,
) -> Result<(Selection, crate::model::Bindings, crate::quantity::Conventions)> {
    let selection = select(data, &request.model, request.file.as_ref(), request.preset.as_deref())?;
    let conventions = conventions(&request.options, data)?;
    let mut sets = conventions.bindings()?;
    for s in &request.sets {
        let (symbol, value) = parse_set(s, &data.symbols)?;
        sets.push((symbol, value, Origin::Set));
    }
    let bindings = selection.model.bind(selection.preset.as_ref(), &sets, &data.symbols)?;
    if let Some(parallel) = &conventions.parallel {
        let written = request.options.parallel.clone().unwrap_or_default();
        parallel.check_splits(&bindings.values(), "--parallel", &written)?;
    }
    Ok((selection, bindings, conventions))
}

/// A model by built-in name or from a model file's text; `preset` picks one of its presets.
pub fn select(data: &Facts, name: &str, file: Option<&Source>, preset: Option<&str>) -> Result<Selection> {
    if let Some(source) = file {
        return preset::from_source(source, preset, &data.model_facts());
    }
    let registry = &data.models;
    let Some(selection) = registry.select(name)? else {
        return match hf_preset(data, name)? {
            Some(source) => preset::from_source(&source, preset, &data.model_facts()),
            None => Err(registry.unknown(name)),
        };
    };
    match preset {
        Some(p) => {
            let qualified = format!("{}/{p}", selection.model.name);
            registry.select(&qualified)?.ok_or_else(|| registry.unknown(&qualified))
        }
        None => Ok(selection),
    }
}

/// A model tally knows by its Hugging Face config (`mixtral-8x7b`), imported as a model file.
pub fn hf_preset(data: &Facts, name: &str) -> Result<Option<Source>> {
    let wanted = name.trim().to_lowercase();
    let Some((id, config)) = data.hf_presets.iter().find(|(n, _)| *n == wanted) else { return Ok(None) };
    import_hf(config, id, data).map(Some)
}

/// A Hugging Face config imported as a tally model file whose size preset is called `preset`;
/// the file is named after the config and the family it was read as.
pub fn import_hf(config: &Source, preset: &str, data: &Facts) -> Result<Source> {
    let imported = crate::model::hf::import(config, preset, data.hf_families(), &data.symbols)?;
    Ok(Source { name: format!("{} (imported as {})", config.name, imported.family), text: imported.text })
}

/// `SYMBOL=VALUE` with a known symbol and a value it can take (a positive whole number for a
/// size; a fraction up to 1 for MFU). Commas are read only as thousands separators (`16,384`).
pub fn parse_set(arg: &str, symbols: &SymbolTable) -> Result<(String, Rational)> {
    let bad = |reason: String| Error::BadSet { arg: arg.to_string(), reason };
    let Some((name, value)) = arg.split_once('=') else {
        return Err(bad("expected SYMBOL=VALUE, e.g. --set T=16384".into()));
    };
    let def = symbols.get(name.trim()).ok_or_else(|| bad(symbols.resolve(name.trim()).err().unwrap_or_default()))?;
    let number = read_number(value.trim()).ok_or_else(|| {
        bad(format!("`{value}` is not a number (write e.g. {}=1024 or {}=16,384)", def.short, def.short))
    })?;
    def.check(&number).map_err(|reason| bad(format!("{} ({}) {reason}, not `{value}`", def.short, def.long)))?;
    Ok((def.short.clone(), number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolving_checks_every_value() {
        let data = Facts::builtin();
        assert!(conventions(&Options::default(), data).is_ok());
        for (name, value) in
            [("mfu", "1.5"), ("steps", "1.5"), ("memory", "80"), ("precision", "fp4"), ("hardware", "x")]
        {
            let mut o = Options::default();
            o.set(name, value).unwrap();
            assert!(conventions(&o, data).is_err(), "{name} = {value}");
        }
        let mut o = Options::default();
        o.set("hardware", "a100").unwrap();
        o.set("precision", "fp8").unwrap();
        assert!(conventions(&o, data).is_err(), "the A100 has no fp8 peak");
        assert_eq!(read_number("16,384"), Some(Rational::from_integer(16384.into())));
        assert_eq!(read_number("1,2"), None);
    }
}
