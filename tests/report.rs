//! The run-comparison report in a real browser: a sweep of eight trainer settings on the
//! quickstart's pipeline, `zenml pipeline compare --html`, the file opened in headless Chromium
//! with networking disabled. Every chart must be drawn with every run, without a script error; a
//! screenshot is saved.
//!
//! The browser is the one `ZENML_TEST_CHROMIUM` names (Debian's `chromium`; `.ci/run` installs
//! it). Without it the test says why and passes, unless `CI` is set.
#![cfg(all(feature = "cli", feature = "report"))]

mod common;
#[path = "common/process.rs"]
mod process;

use std::path::Path;
use std::process::Command;

use process::{iris_config, workspace, zenml};

/// The eight settings, in two groups, each another (alpha, max_iterations).
const SWEEP: [(&str, f64, u32); 8] = [
    ("Sweep small", 0.01, 20),
    ("Sweep small", 0.1, 20),
    ("Sweep small", 1.0, 50),
    ("Sweep small", 10.0, 50),
    ("Sweep large", 0.01, 100),
    ("Sweep large", 0.1, 100),
    ("Sweep large", 1.0, 200),
    ("Sweep large", 10.0, 200),
];

/// Headless Chromium on `page` with every network request refused; `extra` are more flags.
fn chromium(browser: &str, page: &Path, extra: &[String]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-unsafe-swiftshader",
            // No network: every request goes to a proxy that is not there, and no name resolves.
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=30000",
            "--window-size=1280,4200",
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("the browser starts")
}

/// The value of attribute `name` in the start tag that begins at `tag`.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let tag = &tag[..tag.find('>')?];
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(&tag[start..end])
}

#[test]
fn the_report_draws_every_run_in_every_chart_offline() {
    let Some(browser) = std::env::var_os("ZENML_TEST_CHROMIUM") else {
        zenml::store::conformance::skip(
            "report",
            "ZENML_TEST_CHROMIUM does not name a browser (Debian: `apt-get install chromium`, \
             then ZENML_TEST_CHROMIUM=$(command -v chromium))",
        );
        return;
    };
    let browser = browser.to_string_lossy().into_owned();
    let ws = workspace();
    let dir = ws.path();
    zenml(dir, &["init"]).ok();
    // A run's definition is fixed under its pipeline's name: each setting is a pipeline of its
    // own, named after its group.
    for (i, (group, alpha, iterations)) in SWEEP.iter().enumerate() {
        let config = iris_config(&format!("{group} {i}"), *alpha).replace(
            "max_iterations: 50",
            &format!("max_iterations: {iterations}"),
        );
        let file = format!("sweep{i}.yaml");
        std::fs::write(dir.join(&file), config).unwrap();
        zenml(dir, &["pipeline", "run", &file, "--quiet"]).ok();
    }

    let out = zenml(dir, &["pipeline", "compare", "--html", "report.html"]).ok();
    assert_eq!(out.stdout, "Wrote the report of 8 run(s) to report.html\n");
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no script, style sheet or image is loaded from anywhere.
    for outside in ["<script src=", "<link ", "<img ", "<iframe"] {
        assert!(
            !html.contains(outside),
            "the report loads something: {outside}"
        );
    }

    let dom = chromium(&browser, &page, &["--dump-dom".to_owned()]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let status_at = dom
        .find("<div id=\"zenml-report-status\"")
        .unwrap_or_else(|| panic!("no status in the page the browser drew"));
    let status = &dom[status_at..];
    assert_eq!(
        attribute(status, "data-state"),
        Some("ready"),
        "script errors: {:?}",
        attribute(status, "data-errors")
    );
    assert_eq!(attribute(status, "data-errors"), Some(""));

    // Every chart, as drawn: a bar or a marker for each of the eight runs.
    let mut charts = Vec::new();
    for part in dom.split("<div class=\"plot\" data-plot=\"").skip(1) {
        let id = &part[..part.find('"').unwrap()];
        let part = &part[..part.find("zenml-report-status").unwrap_or(part.len())];
        charts.push(id.to_owned());
        if id == "parallel" {
            // The lines are drawn with WebGL; its axes are SVG: alpha, max_iterations, accuracy.
            assert_eq!(part.matches("class=\"axis-title\"").count(), 3, "{id}");
            assert!(part.contains("<canvas"), "{id}");
        } else {
            assert_eq!(part.matches("class=\"point\"").count(), 8, "{id}");
        }
    }
    assert_eq!(
        charts,
        [
            "metric-accuracy",
            "metric-f1_macro",
            "param-alpha",
            "param-max_iterations",
            "parallel"
        ]
    );

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &browser,
        &page,
        &[format!("--screenshot={}", shot.display())],
    );
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("screenshot: {}", shot.display());
}
