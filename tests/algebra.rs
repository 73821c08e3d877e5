//! tally multiplies out Laurent polynomials itself and leaves everything else to symbolica
//! (`Engine::expand`). Both must agree on every closed form tally derives: every quantity of every
//! built-in model and Hugging Face preset, under the default conventions and under a parallel
//! layout (whose per-GPU forms divide by the degrees).

use tally::algebra::worker::{WaitOptions, exclusive};
use tally::facts::Facts;
use tally::options::Options;
use tally::quantity::Catalog;

#[test]
fn own_expansion_equals_symbolicas_for_every_closed_form() {
    let checked = exclusive(&WaitOptions::default(), |engine| {
        let data = Facts::builtin();
        let mut names: Vec<String> = data.models.listing().into_iter().map(|(name, _)| name).collect();
        names.extend(data.hf_presets.iter().map(|(name, _)| name.clone()));
        let parallel = Options {
            parallel: Some("dp=2,tp=2,pp=2".into()),
            zero: tally::options::Zero::Stage3,
            sequence_parallel: true,
            ..Options::default()
        };
        let mut checked = 0;
        for name in &names {
            let selection = tally::resolve::select(data, name, None, None).unwrap();
            for options in [Options::default(), parallel.clone()] {
                let conventions = tally::resolve::conventions(&options, data).unwrap();
                let catalog = Catalog::new(&selection.model, &conventions);
                for quantity in catalog.names() {
                    let Some(raw) = catalog.raw(&quantity) else { continue };
                    let own = engine.expanded(&raw).unwrap();
                    if own.has_floor() {
                        continue; // a floor is shown as written, never expanded by either
                    }
                    let theirs = engine.expand_by_symbolica(&raw).unwrap();
                    let difference = engine.expand_by_symbolica(&(own.clone() - theirs.clone())).unwrap();
                    assert!(difference.is_zero(), "{name} {quantity}: own {own:?}\nsymbolica {theirs:?}");
                    checked += 1;
                }
            }
        }
        checked
    })
    .unwrap();
    assert!(checked > 2_000, "only {checked} closed forms compared");
}
