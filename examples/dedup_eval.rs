//! Runs labelled two-outlet sets through the real pipeline with the shipped model and prints
//! precision, recall by difficulty and every false merge. A set the model was not fitted on
//! (see `examples/dedup_fit.rs`) gives held-out figures.
//!
//! Run: `cargo run --release --example dedup_eval -- DIR [DIR…]`, each DIR holding
//! `abc.xml`, `newscomau.xml` and `labels.json`.

use std::path::Path;

use anyhow::bail;
use tributary::dedup::Model;
use tributary::evaluation::{run, Arrival, LabelledSet, Report};

fn main() -> anyhow::Result<()> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        bail!("usage: dedup_eval DIR [DIR…] (each with abc.xml, newscomau.xml, labels.json)");
    }
    for dir in dirs {
        let set = LabelledSet::load(Path::new(&dir))?;
        let outcome = run(&set, Model::FITTED, Arrival::AsPublished)?;
        print!("{}", Report::of(&set, &outcome, |_| true));
        let reversed = run(&set, Model::FITTED, Arrival::NewestFirst)?;
        let changed = (0..set.items.len())
            .filter(|&place| {
                (0..set.items.len()).any(|other| {
                    (outcome.story[place] == outcome.story[other])
                        != (reversed.story[place] == reversed.story[other])
                })
            })
            .count();
        println!(
            "  items whose story changed when everything arrived at once, newest first: {changed}"
        );
    }
    Ok(())
}
