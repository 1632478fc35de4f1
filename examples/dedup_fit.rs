//! Fits the dedup model (`dedup::Model::FITTED`) on labelled two-outlet sets, after measuring
//! it by five-fold cross-validation by story: the figures printed first are those of stories
//! each fold's weights never saw. The weights fitted on everything are printed last, as Rust
//! to paste into `src/dedup/score.rs`.
//!
//! Run: `cargo run --release --example dedup_fit -- DIR [DIR…]`; without arguments, the sets
//! in the repo (`../shared/fixtures/dedup-dev` and `tests/fixtures/dedup/*`).

use std::path::PathBuf;

use tributary::dedup::INPUT_NAMES;
use tributary::evaluation::{cross_validate, fit_all, LabelledSet};

const FOLDS: usize = 5;

fn main() -> anyhow::Result<()> {
    let mut dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        dirs.push(root.join("../shared/fixtures/dedup-dev"));
        for entry in std::fs::read_dir(root.join("tests/fixtures/dedup"))? {
            let path = entry?.path();
            if path.join("labels.json").is_file() {
                dirs.push(path);
            }
        }
        dirs.sort();
    }
    let sets = dirs
        .iter()
        .map(|d| LabelledSet::load(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!("{FOLDS}-fold cross-validation by story (held-out figures):");
    for report in cross_validate(&sets, FOLDS)? {
        print!("{report}");
    }
    let model = fit_all(&sets);
    println!("\nfitted on all {} sets:", sets.len());
    println!("    pub const FITTED: Model = Model {{");
    println!("        bias: {:.3},", model.bias);
    let weights: Vec<String> = model.weights.iter().map(|w| format!("{w:.3}")).collect();
    println!("        weights: [{}],", weights.join(", "));
    println!("    }};");
    for (name, weight) in INPUT_NAMES.iter().zip(model.weights) {
        println!("    {name:>18}: {weight:+.3}");
    }
    Ok(())
}
