//! Fitting the dedup model: the pairs the window would score, with their features and whether
//! they are one story, and a logistic regression over them.

use chrono::Utc;

use super::labelled::LabelledSet;
use super::unordered;
use crate::dedup::{measure, Candidate, Model, Signature, Window, INPUTS};

/// A pair of a set's items as the pipeline would score it.
pub struct Example {
    pub inputs: [f64; INPUTS],
    pub same: bool,
    /// The two items' places in the set.
    pub items: (usize, usize),
}

/// Collects the pairs of `set` the pipeline would compare — each item's candidates in a window that
/// holds the whole set (about two days of two outlets, as the daemon's window does) — and
/// every labelled pair besides, with their features.
pub fn examples(set: &LabelledSet) -> Vec<Example> {
    let mut window = Window::default();
    let mut sketches = Vec::with_capacity(set.items.len());
    for (place, item) in set.items.iter().enumerate() {
        let sketch = Signature::of(item).sketch();
        let dated = item.published.unwrap_or_else(Utc::now).timestamp();
        window.insert(Candidate {
            id: place.to_string().into(),
            outlet: item.outlet.as_str().into(),
            story: place.to_string().into(),
            url: item.canonical_url().map(Into::into),
            dated,
            seen_at: dated,
            sketch: sketch.clone(),
        });
        sketches.push((sketch, dated));
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (place, (sketch, _)) in sketches.iter().enumerate() {
        for found in window.candidates_of(sketch, i64::MIN + 1) {
            let other: usize = window.entry(found).id.parse().unwrap_or(place);
            pairs.push(unordered(place, other));
        }
    }
    let labelled = set.duplicates.iter().map(|d| (d.a, d.b));
    pairs.extend(
        labelled
            .chain(set.hard_negatives.iter().copied())
            .map(|(a, b)| unordered(a, b)),
    );
    pairs.sort_unstable();
    pairs.dedup();
    let rarity = window.rarity(true);
    pairs
        .into_iter()
        .filter(|(a, b)| a != b && set.items[*a].id != set.items[*b].id)
        .map(|(a, b)| {
            let ((sa, da), (sb, db)) = (&sketches[a], &sketches[b]);
            let link = |i: usize| set.items[i].canonical_url();
            let same_link = link(a).is_some() && link(a) == link(b);
            let hours = (da - db).abs() as f64 / 3600.0;
            let features = measure(sa, sb, |t| rarity.of(t), hours, same_link);
            Example {
                inputs: features.inputs(),
                same: set.story[a] == set.story[b],
                items: (a, b),
            }
        })
        .collect()
}

/// How strongly the weights are pulled towards zero: a little, so that a feature the labels
/// never contradict does not get an unbounded weight.
const RIDGE: f64 = 1.0;

/// Fits a logistic regression to `examples` by Newton's method, with a ridge penalty on the
/// weights (not the bias).
pub fn logistic(examples: &[&Example]) -> Model {
    const N: usize = INPUTS + 1;
    let mut beta = [0.0; N];
    for _ in 0..50 {
        let mut gradient = [0.0; N];
        let mut hessian = [[0.0; N]; N];
        for example in examples {
            let mut x = [1.0; N];
            x[1..].copy_from_slice(&example.inputs);
            let logit: f64 = x.iter().zip(&beta).map(|(x, b)| x * b).sum();
            let p = 1.0 / (1.0 + (-logit).exp());
            let y = f64::from(u8::from(example.same));
            for i in 0..N {
                gradient[i] += (p - y) * x[i];
                for j in 0..N {
                    hessian[i][j] += p * (1.0 - p) * x[i] * x[j];
                }
            }
        }
        for i in 1..N {
            gradient[i] += RIDGE * beta[i];
            hessian[i][i] += RIDGE;
        }
        let Some(step) = solve(hessian, gradient) else {
            break;
        };
        let mut moved = 0.0_f64;
        for i in 0..N {
            beta[i] -= step[i];
            moved = moved.max(step[i].abs());
        }
        if moved < 1e-9 {
            break;
        }
    }
    Model {
        bias: beta[0],
        weights: std::array::from_fn(|i| beta[i + 1]),
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if `a` is singular.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..N {
            let factor = a[row][col] / pivot_row[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= factor * p;
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let rest: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_system() {
        let x = solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]).unwrap();
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
        assert!(solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]).is_none());
    }

    #[test]
    fn learns_which_input_separates_the_classes() {
        let examples: Vec<Example> = (0..200)
            .map(|i| {
                let same = i % 2 == 0;
                let mut inputs = [0.0; INPUTS];
                inputs[0] = if same { 0.6 } else { 0.1 } + (i % 7) as f64 * 0.02;
                inputs[1] = (i % 5) as f64 * 0.2;
                Example {
                    inputs,
                    same,
                    items: (i, i + 1),
                }
            })
            .collect();
        let model = logistic(&examples.iter().collect::<Vec<_>>());
        assert!(model.weights[0] > 3.0, "{model:?}");
        assert!(model.weights[1].abs() < 1.0, "{model:?}");
    }
}
