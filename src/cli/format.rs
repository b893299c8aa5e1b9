//! Output for people (aligned tables, dates) and for scripts (JSON).

use std::io::Write;

use serde_json::{Value as J, json};
use zenml_core::param::{Params, Value};
use zenml_core::store::{ArtifactRecord, ExecutionRecord, RunRecord};

pub(super) use zenml_core::runner::error_chain;

/// Writes rows as a table whose first row is the header; columns are padded to their widest
/// cell.
pub(super) fn table(out: &mut dyn Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let widths: Vec<usize> = (0..first.len())
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

/// A table's header row.
pub(super) fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Pretty JSON followed by a newline.
pub(super) fn json_out(out: &mut dyn Write, value: &J) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(super) fn date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A size in bytes as a person reads it.
pub(super) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub(super) fn value_json(v: &Value) -> J {
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Float(x) => {
            serde_json::Number::from_f64(*x).map_or_else(|| J::String(x.to_string()), J::Number)
        }
        Value::Str(s) => J::String(s.clone()),
        _ => J::Null,
    }
}

pub(super) fn params_json(p: &Params) -> J {
    J::Object(
        p.iter()
            .map(|(k, v)| (k.to_owned(), value_json(v)))
            .collect(),
    )
}

pub(super) fn params_text(p: &Params) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn metrics_json(m: &[(String, f64)]) -> J {
    J::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), value_json(&Value::Float(*v))))
            .collect(),
    )
}

pub(super) fn run_json(r: &RunRecord) -> J {
    json!({
        "id": r.id,
        "name": r.name,
        "pipeline": r.pipeline_name,
        "status": r.status.as_str(),
        "started_ms": r.started_ms,
        "finished_ms": r.finished_ms,
    })
}

pub(super) fn artifact_json(a: &ArtifactRecord) -> J {
    json!({
        "id": a.id,
        "uri": zenml_core::store::redact_url(&a.uri),
        "hash": a.hash.to_hex(),
        "size": a.size,
        "type": a.type_name,
        "materializer": a.materializer,
        "created_ms": a.created_ms,
    })
}

pub(super) fn execution_json(e: &ExecutionRecord) -> J {
    let io =
        |v: &[(String, i64)]| J::Object(v.iter().map(|(k, id)| (k.clone(), json!(id))).collect());
    json!({
        "id": e.id,
        "run_id": e.run_id,
        "step": e.step_name,
        "source": e.source,
        "version": e.version,
        "kind": e.kind.map(|k| k.as_str()),
        "state": e.state.as_str(),
        "params": params_json(&e.params),
        "metrics": metrics_json(&e.metrics),
        "cache_key": e.cache_key.map(|k| k.to_hex()),
        "code_fingerprint": e.code_fingerprint.map(|k| k.to_hex()),
        "cached_from": e.cached_from,
        "duration_ms": e.duration_ms,
        "error": e.error,
        "inputs": io(&e.inputs),
        "outputs": io(&e.outputs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01 00:00:00");
        assert_eq!(date(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(date(1_795_687_906_181), "2026-11-26 10:11:46");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(1 << 30), "1.0 GiB");
    }
}
