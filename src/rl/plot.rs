//! Training curves as an SVG (`RUN/curves.svg`): reward, accuracy, entropy, KL, gradient norm
//! and held-out accuracy against the step. Redrawn as the run goes (written atomically) and by
//! `prover plot RUN_DIR`.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::rl::metrics::{read_metrics, StepMetrics};

type Getter = fn(&StepMetrics) -> Option<f64>;

/// Draws `RUN_DIR/curves.svg` from `RUN_DIR/metrics.jsonl`; returns the SVG's path.
pub fn plot_run(run_dir: &Path) -> Result<PathBuf> {
    let rows = read_metrics(&run_dir.join("metrics.jsonl"))?;
    let panels: [(&str, Getter); 6] = [
        ("reward (mean)", |m| Some(m.reward_mean)),
        ("accuracy", |m| Some(m.accuracy)),
        ("entropy", |m| Some(m.entropy)),
        ("KL to reference", |m| Some(m.kl)),
        ("grad norm (pre-clip)", |m| Some(m.grad_norm)),
        ("held-out accuracy", |m| m.eval_accuracy),
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 700)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow::anyhow!("plot: {e}"))?;
        let areas = root.split_evenly((2, 3));
        for ((title, get), area) in panels.iter().zip(areas.iter()) {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                // a step-0 line only carries the evaluation before training
                .filter(|m| {
                    m.step > 0 || (m.eval_accuracy.is_some() && title.starts_with("held-out"))
                })
                .filter_map(|m| get(m).filter(|v| v.is_finite()).map(|v| (m.step as f64, v)))
                .collect();
            let (x0, x1) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                    (a.min(p.0), b.max(p.0))
                });
            let (y0, y1) = pts
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                    (a.min(p.1), b.max(p.1))
                });
            let (x0, x1) = if pts.is_empty() {
                (0.0, 1.0)
            } else {
                (x0, x1.max(x0 + 1.0))
            };
            let (y0, y1) = if pts.is_empty() {
                (0.0, 1.0)
            } else {
                // a flat series (e.g. KL with kl_coef = 0) gets a readable band around it
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
                .map_err(|e| anyhow::anyhow!("plot: {e}"))?;
            chart
                .configure_mesh()
                .x_desc("step")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y:.dec$}"))
                .draw()
                .map_err(|e| anyhow::anyhow!("plot: {e}"))?;
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), &BLUE))
                .map_err(|e| anyhow::anyhow!("plot: {e}"))?;
            if pts.len() <= 50 {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 2, BLUE.filled())))
                    .map_err(|e| anyhow::anyhow!("plot: {e}"))?;
            }
        }
        root.present().map_err(|e| anyhow::anyhow!("plot: {e}"))?;
    }
    let out = run_dir.join("curves.svg");
    crate::rl::checkpoint::write_atomic(&out, svg.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out)
}
