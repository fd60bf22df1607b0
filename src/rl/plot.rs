//! Training curves as an SVG (`RUN/curves.svg`): reward, accuracy, entropy, KL (or, with
//! `kl_coef = 0`, the share of all-equal groups), gradient norm and held-out accuracy against
//! the step. Redrawn as the run goes (written atomically) and by `prover plot RUN_DIR`.
//!
//! Rules: every panel shares one integer step axis (the first plotted step to the last, at
//! least two steps wide), labelled at whole steps only, each label once; the reward panel marks
//! the steps with a held-out evaluation (triangles on its x-axis, [`EVAL_MARK`]); the KL panel
//! is titled "KL off" and shows `zero_std_frac` when the run's `config.toml` says `kl_coef =
//! 0` (without a config: when every logged KL is exactly 0).
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::rl::metrics::{read_metrics, StepMetrics};

type Getter = fn(&StepMetrics) -> Option<f64>;

/// The colour of the held-out evaluation marks on the reward panel (`#D62728` in the SVG).
pub const EVAL_MARK: RGBColor = RGBColor(0xD6, 0x27, 0x28);

/// Most x-axis labels per panel.
const MAX_X_LABELS: usize = 8;

/// Whether the run trained without a KL term: `loss.kl_coef` of `RUN/config.toml`, else every
/// logged KL is 0.
fn kl_off(run_dir: &Path, rows: &[StepMetrics]) -> bool {
    let coef = std::fs::read_to_string(run_dir.join("config.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Value>().ok())
        .map(|v| {
            v.get("loss")
                .and_then(|l| l.get("kl_coef"))
                .and_then(|k| k.as_float().or_else(|| k.as_integer().map(|i| i as f64)))
                .unwrap_or(0.0) // the config's default
        });
    match coef {
        Some(c) => c == 0.0,
        None => rows.iter().filter(|m| m.step > 0).all(|m| m.kl == 0.0),
    }
}

/// The plotted step range: all panels share it; at least two steps wide so a one-step run
/// still has an axis.
fn step_range(rows: &[StepMetrics]) -> (i64, i64) {
    let steps = rows
        .iter()
        .filter(|m| m.step > 0 || m.eval_accuracy.is_some())
        .map(|m| m.step as i64);
    let lo = steps.clone().min().unwrap_or(0);
    let hi = steps.max().unwrap_or(1);
    (lo, hi.max(lo + 1))
}

/// Draws `RUN_DIR/curves.svg` from `RUN_DIR/metrics.jsonl`; returns the SVG's path.
pub fn plot_run(run_dir: &Path) -> Result<PathBuf> {
    let rows = read_metrics(&run_dir.join("metrics.jsonl"))?;
    let svg = render(&rows, kl_off(run_dir, &rows))?;
    let out = run_dir.join("curves.svg");
    crate::rl::checkpoint::write_atomic(&out, svg.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out)
}

/// The SVG text of the curves of `rows`.
pub fn render(rows: &[StepMetrics], kl_off: bool) -> Result<String> {
    let kl_panel: (&str, Getter) = if kl_off {
        ("KL off: share of all-equal groups", |m| {
            Some(m.zero_std_frac)
        })
    } else {
        ("KL to reference", |m| Some(m.kl))
    };
    let panels: [(&str, Getter); 6] = [
        ("reward (mean; \u{25B2} held-out eval)", |m| {
            Some(m.reward_mean)
        }),
        ("accuracy", |m| Some(m.accuracy)),
        ("entropy", |m| Some(m.entropy)),
        kl_panel,
        ("grad norm (pre-clip)", |m| Some(m.grad_norm)),
        ("held-out accuracy", |m| m.eval_accuracy),
    ];
    let (x0, x1) = step_range(rows);
    let x_labels = ((x1 - x0 + 1) as usize).min(MAX_X_LABELS);
    let eval_steps: Vec<i64> = rows
        .iter()
        .filter(|m| m.eval_accuracy.is_some())
        .map(|m| m.step as i64)
        .collect();
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("plot: {e}");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 700)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let areas = root.split_evenly((2, 3));
        for (i, ((title, get), area)) in panels.iter().zip(areas.iter()).enumerate() {
            let held_out = i == panels.len() - 1;
            let pts: Vec<(i64, f64)> = rows
                .iter()
                // a step-0 line only carries the evaluation before training
                .filter(|m| m.step > 0 || (m.eval_accuracy.is_some() && held_out))
                .filter_map(|m| get(m).filter(|v| v.is_finite()).map(|v| (m.step as i64, v)))
                .collect();
            let (y0, y1) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                    (a.min(p.1), b.max(p.1))
                });
            let (y0, y1) = if pts.is_empty() {
                (0.0, 1.0)
            } else {
                // a flat series gets a readable band around it
                let pad = ((y1 - y0) * 0.05).max(1e-3 * y0.abs().max(1.0));
                (y0 - pad, y1 + pad)
            };
            // enough decimals to tell the tick labels apart
            let dec = ((-(y1 - y0).log10()).ceil() as i32 + 1).clamp(0, 8) as usize;
            let mut chart = ChartBuilder::on(area)
                .caption(*title, ("sans-serif", 18))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc("step")
                .x_labels(x_labels)
                .x_label_formatter(&|x| format!("{x}"))
                .y_label_formatter(&|y| format!("{y:.dec$}"))
                .draw()
                .map_err(|e| err(&e))?;
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), &BLUE))
                .map_err(|e| err(&e))?;
            if pts.len() <= 50 {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 2, BLUE.filled())))
                    .map_err(|e| err(&e))?;
            }
            if i == 0 {
                // the held-out evaluations, as triangles just above the x-axis
                let y = y0 + 0.03 * (y1 - y0);
                chart
                    .draw_series(
                        eval_steps
                            .iter()
                            .map(|&s| TriangleMarker::new((s, y), 5, EVAL_MARK.filled())),
                    )
                    .map_err(|e| err(&e))?;
            }
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}
