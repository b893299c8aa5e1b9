//! The run-comparison report: one self-contained HTML file, readable offline, that puts training
//! runs side by side.
//!
//! ```no_run
//! use zenml::Repository;
//! use zenml::report::{ComparisonExt, ReportOptions};
//!
//! let repo = Repository::open(".")?;
//! repo.compare_training_runs()?
//!     .write_html("report.html", &ReportOptions::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The file holds:
//! - the runs' table: parameters and metrics side by side, the parameters that vary between
//!   runs marked (those that never vary are hidden until asked for), sortable by any column
//!   (click its header), filtered by pipeline;
//! - a chart of each metric per run;
//! - a chart of each varied parameter against the chosen metric ([`ReportOptions::metric`]);
//! - a parallel-coordinates view of the varied parameters and the chosen metric, string and
//!   boolean parameters on categorical axes.
//!
//! Hovering a point names its run; each pipeline is a legend entry that hides or shows its runs.
//! The charts are drawn by plotly.js, whose file the `plotly` crate embeds into the binary and
//! the report carries: nothing is fetched when the file is opened.
//!
//! When the page has drawn every chart, the element `#zenml-report-status` gets the attribute
//! `data-state="ready"` (or `"failed"`, with the script errors in `data-errors`), for tools
//! that check a report in a browser.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotly::common::{Marker, Mode};
use plotly::layout::{Axis, Layout};
use plotly::{Bar, Plot, Scatter};
use serde::Serialize;
use zenml_core::param::Value;
use zenml_core::repository::{Comparison, ComparisonRow};

/// What a report shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportOptions {
    /// The metric the parameters are charted against; `None`: `accuracy` if the runs have it,
    /// else the first metric by name.
    pub metric: Option<String>,
}

impl ReportOptions {
    /// Charts the parameters against `metric`.
    pub fn with_metric(mut self, metric: impl Into<String>) -> Self {
        self.metric = Some(metric.into());
        self
    }
}

/// A report that cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The metric asked for is not recorded by any run.
    #[error("no run has the metric `{metric}`; the runs have: {}", known.join(", "))]
    UnknownMetric {
        /// The metric asked for.
        metric: String,
        /// The metrics the runs have.
        known: Vec<String>,
    },
    /// The file cannot be written.
    #[error("cannot write the report to {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The report of a [`Comparison`].
pub trait ComparisonExt {
    /// The report as one HTML document.
    fn to_html(&self, options: &ReportOptions) -> Result<String, ReportError>;

    /// Writes the report to `path`.
    fn write_html(
        &self,
        path: impl AsRef<Path>,
        options: &ReportOptions,
    ) -> Result<(), ReportError>;
}

impl ComparisonExt for Comparison {
    fn to_html(&self, options: &ReportOptions) -> Result<String, ReportError> {
        html(self, options)
    }

    fn write_html(
        &self,
        path: impl AsRef<Path>,
        options: &ReportOptions,
    ) -> Result<(), ReportError> {
        let path = path.as_ref();
        let html = self.to_html(options)?;
        std::fs::write(path, html).map_err(|source| ReportError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

/// A parameter's value as a chart reads it: a number, or a category.
fn chart_value(v: Option<&Value>) -> serde_json::Value {
    match v {
        Some(Value::Int(i)) => serde_json::json!(i),
        Some(Value::Float(x)) if x.is_finite() => serde_json::json!(x),
        Some(Value::Null) | None => serde_json::Value::Null,
        Some(other) => serde_json::Value::String(other.to_string()),
    }
}

/// Parameters whose values differ between runs.
fn varied(c: &Comparison) -> Vec<String> {
    c.param_names
        .iter()
        .filter(|p| {
            let values: BTreeSet<String> = c
                .rows
                .iter()
                .map(|r| {
                    r.param(p)
                        .map_or_else(|| "-".to_owned(), ToString::to_string)
                })
                .collect();
            values.len() > 1
        })
        .cloned()
        .collect()
}

/// The runs of each pipeline, pipelines by name.
fn by_pipeline(c: &Comparison) -> BTreeMap<&str, Vec<&ComparisonRow>> {
    let mut out: BTreeMap<&str, Vec<&ComparisonRow>> = BTreeMap::new();
    for r in &c.rows {
        out.entry(r.pipeline.as_str()).or_default().push(r);
    }
    out
}

fn layout(title: &str, x: &str, y: &str) -> Layout {
    Layout::new()
        .title(title)
        .height(420)
        .x_axis(Axis::new().title(x).auto_margin(true))
        .y_axis(Axis::new().title(y).auto_margin(true))
}

/// A bar per run: the metric's value.
fn metric_plot(c: &Comparison, metric: &str) -> Plot {
    let mut plot = Plot::new();
    for (pipeline, rows) in by_pipeline(c) {
        let runs: Vec<String> = rows.iter().map(|r| r.run.clone()).collect();
        let values: Vec<Option<f64>> = rows.iter().map(|r| r.metric(metric)).collect();
        plot.add_trace(
            Bar::new(runs.clone(), values)
                .name(pipeline)
                .hover_text_array(runs)
                .hover_template(format!(
                    "%{{hovertext}}<br>{metric}: %{{y}}<extra>%{{fullData.name}}</extra>"
                )),
        );
    }
    plot.set_layout(layout(&format!("{metric} per run"), "run", metric));
    plot
}

/// A point per run: the parameter's value against the metric.
fn param_plot(c: &Comparison, param: &str, metric: &str) -> Plot {
    let mut plot = Plot::new();
    for (pipeline, rows) in by_pipeline(c) {
        let runs: Vec<String> = rows.iter().map(|r| r.run.clone()).collect();
        let x: Vec<serde_json::Value> = rows.iter().map(|r| chart_value(r.param(param))).collect();
        let y: Vec<Option<f64>> = rows.iter().map(|r| r.metric(metric)).collect();
        plot.add_trace(
            Scatter::new(x, y)
                .name(pipeline)
                .mode(Mode::Markers)
                .marker(Marker::new().size(10))
                .hover_text_array(runs)
                .hover_template(format!(
                    "%{{hovertext}}<br>{param}: %{{x}}<br>{metric}: %{{y}}<extra>%{{fullData.name}}</extra>"
                )),
        );
    }
    plot.set_layout(layout(&format!("{metric} by {param}"), param, metric));
    plot
}

/// Plotly's `parcoords` trace, which the `plotly` crate does not model: its JSON, as plotly.js
/// documents it.
#[derive(Clone, Debug, Serialize)]
struct Parcoords {
    r#type: &'static str,
    dimensions: Vec<Dimension>,
    line: ParcoordsLine,
}

#[derive(Clone, Debug, Serialize)]
struct Dimension {
    label: String,
    values: Vec<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tickvals: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticktext: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize)]
struct ParcoordsLine {
    color: Vec<Option<f64>>,
    colorscale: &'static str,
    showscale: bool,
}

impl plotly::Trace for Parcoords {
    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A dimension of the parallel coordinates: numbers on a numeric axis, anything else on a
/// categorical one (categories in sorted order).
fn dimension(label: &str, values: &[Option<&Value>]) -> Dimension {
    let numeric = values
        .iter()
        .flatten()
        .all(|v| matches!(v, Value::Int(_) | Value::Float(_)));
    if numeric {
        #[allow(clippy::cast_precision_loss)]
        let values = values
            .iter()
            .map(|v| match v {
                Some(Value::Int(i)) => Some(*i as f64),
                Some(Value::Float(x)) if x.is_finite() => Some(*x),
                _ => None,
            })
            .collect();
        return Dimension {
            label: label.to_owned(),
            values,
            tickvals: None,
            ticktext: None,
        };
    }
    let text = |v: &Option<&Value>| v.map_or_else(|| "-".to_owned(), ToString::to_string);
    let categories: Vec<String> = values
        .iter()
        .map(text)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let index = |s: &str| categories.iter().position(|c| c == s).map(|i| i as f64);
    Dimension {
        label: label.to_owned(),
        values: values.iter().map(|v| index(&text(v))).collect(),
        #[allow(clippy::cast_precision_loss)]
        tickvals: Some((0..categories.len()).map(|i| i as f64).collect()),
        ticktext: Some(categories),
    }
}

fn parallel_plot(c: &Comparison, params: &[String], metric: &str) -> Plot {
    let mut dimensions: Vec<Dimension> = params
        .iter()
        .map(|p| {
            let values: Vec<Option<&Value>> = c.rows.iter().map(|r| r.param(p)).collect();
            dimension(p, &values)
        })
        .collect();
    let scores: Vec<Option<f64>> = c.rows.iter().map(|r| r.metric(metric)).collect();
    dimensions.push(Dimension {
        label: metric.to_owned(),
        values: scores.clone(),
        tickvals: None,
        ticktext: None,
    });
    let mut plot = Plot::new();
    plot.add_trace(Box::new(Parcoords {
        r#type: "parcoords",
        dimensions,
        line: ParcoordsLine {
            color: scores,
            colorscale: "Viridis",
            showscale: true,
        },
    }));
    plot.set_layout(
        Layout::new()
            .title(format!("varied parameters and {metric}"))
            .height(460),
    );
    plot
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The runs' table.
fn table_html(c: &Comparison, varied: &[String]) -> String {
    let mut t = String::from("<table id=\"runs\"><thead><tr>");
    let mut header = |name: &str, class: &str, kind: &str| {
        let _ = write!(
            t,
            "<th class=\"{class}\" data-kind=\"{kind}\" title=\"sort\">{}</th>",
            esc(name)
        );
    };
    header("run", "", "text");
    header("pipeline", "", "text");
    for p in &c.param_names {
        let class = if varied.contains(p) {
            "param varied"
        } else {
            "param constant"
        };
        header(p, class, "auto");
    }
    for m in &c.metric_names {
        header(m, "metric", "number");
    }
    t.push_str("</tr></thead><tbody>");
    for r in &c.rows {
        let _ = write!(
            t,
            "<tr data-pipeline=\"{}\"><td>{}</td><td>{}</td>",
            esc(&r.pipeline),
            esc(&r.run),
            esc(&r.pipeline)
        );
        for p in &c.param_names {
            let class = if varied.contains(p) {
                "param varied"
            } else {
                "param constant"
            };
            let v = r
                .param(p)
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            let _ = write!(t, "<td class=\"{class}\">{}</td>", esc(&v));
        }
        for m in &c.metric_names {
            let v = r
                .metric(m)
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
            let _ = write!(t, "<td class=\"metric\">{v}</td>");
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table>");
    t
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd;\
text-align:left;white-space:nowrap}th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}\
th.varied::after{content:' \\2605';color:#c60}.constant{display:none}\
body.show-constant .constant{display:table-cell}.table-wrap{max-height:32em;overflow:auto}\
.plot{margin:1em 0}";

/// The table's sorting, filtering and constant-column toggle, and the status element tools
/// read.
const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById('runs');
  var dir = {};
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      dir[i] = -(dir[i] || -1);
      rows.sort(function (a, b) {
        var x = a.cells[i].textContent, y = b.cells[i].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return c * dir[i];
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  document.getElementById('pipeline').addEventListener('change', function (e) {
    var want = e.target.value;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.style.display = (want === '' || r.dataset.pipeline === want) ? '' : 'none';
    });
  });
  document.getElementById('constant').addEventListener('change', function (e) {
    document.body.classList.toggle('show-constant', e.target.checked);
  });
})();
"#;

/// Collects script errors from the start, so that the status can report them.
const ERRORS: &str = "<script>window.zenmlErrors=[];window.addEventListener('error',\
function(e){window.zenmlErrors.push(String(e.message));});</script>";

/// Sets the status once every chart is drawn.
const STATUS: &str = r#"<script>
(function () {
  var status = document.getElementById('zenml-report-status');
  var plots = document.querySelectorAll('.plot .plotly-graph-div');
  var pending = Array.prototype.map.call(plots, function (p) {
    return new Promise(function (done) {
      var check = function () { if (p._fullLayout) { done(); } else { setTimeout(check, 20); } };
      check();
    });
  });
  Promise.all(pending).then(function () {
    var errors = window.zenmlErrors;
    status.dataset.plots = String(plots.length);
    status.dataset.errors = errors.join('\n');
    status.dataset.state = errors.length ? 'failed' : 'ready';
    status.textContent = errors.length ? 'script errors: ' + errors.join('; ') : '';
  });
})();
</script>"#;

fn html(c: &Comparison, options: &ReportOptions) -> Result<String, ReportError> {
    let metric = match &options.metric {
        Some(m) if c.metric_names.contains(m) => Some(m.clone()),
        Some(m) => {
            return Err(ReportError::UnknownMetric {
                metric: m.clone(),
                known: c.metric_names.clone(),
            });
        }
        None => c
            .metric_names
            .iter()
            .find(|m| *m == "accuracy")
            .or_else(|| c.metric_names.first())
            .cloned(),
    };
    let varied = varied(c);
    let mut plots: Vec<(String, Plot)> = c
        .metric_names
        .iter()
        .map(|m| (format!("metric-{m}"), metric_plot(c, m)))
        .collect();
    if let Some(metric) = &metric {
        for p in &varied {
            plots.push((format!("param-{p}"), param_plot(c, p, metric)));
        }
        if !varied.is_empty() {
            plots.push(("parallel".to_owned(), parallel_plot(c, &varied, metric)));
        }
    }

    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    page.push_str("<title>zenml: training runs compared</title>");
    let _ = write!(page, "<style>{STYLE}</style>{ERRORS}");
    page.push_str(&Plot::offline_js_sources());
    page.push_str("</head><body>");
    let _ = write!(
        page,
        "<h1>Training runs compared</h1><p>{} run(s) of {} pipeline(s); parameters marked \
         &#9733; vary between runs{}.</p>",
        c.rows.len(),
        by_pipeline(c).len(),
        metric
            .as_ref()
            .map(|m| format!("; charted against <b>{}</b>", esc(m)))
            .unwrap_or_default()
    );
    page.push_str("<p><label>Pipeline <select id=\"pipeline\"><option value=\"\">all</option>");
    for p in by_pipeline(c).keys() {
        let _ = write!(page, "<option>{}</option>", esc(p));
    }
    page.push_str(
        "</select></label> <label><input type=\"checkbox\" id=\"constant\"> show the \
         parameters that never vary</label></p>",
    );
    let _ = write!(
        page,
        "<div class=\"table-wrap\">{}</div>",
        table_html(c, &varied)
    );
    for (id, plot) in &plots {
        let _ = write!(
            page,
            "<div class=\"plot\" data-plot=\"{}\">{}</div>",
            esc(id),
            plot.to_inline_html(Some(&format!("zenml-plot-{id}")))
        );
    }
    let _ = writeln!(
        page,
        "<div id=\"zenml-report-status\" data-state=\"drawing\" data-runs=\"{}\"></div>\
         <script>{SCRIPT}</script>{STATUS}</body></html>",
        c.rows.len()
    );
    Ok(page)
}
