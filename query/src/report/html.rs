//! `report.html`: one self-contained page. Inline CSS and SVG only: no
//! script, no font or image fetched, so it opens air-gapped, reads without
//! JavaScript and prints (A4, one section per page break where it fits).

use std::fmt::Write;

use auditfed_schemas::seal::format_time;

use super::pack::Status;
use super::run::ReportData;

/// Rows of each control shown in the page (the CSV has more).
pub const ROWS_SHOWN: usize = 25;

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn badge(status: Status) -> String {
    format!(
        "<span class=\"badge {s}\">{}</span>",
        status.as_str().to_uppercase(),
        s = status.as_str()
    )
}

const STYLE: &str = "
body{font-family:Helvetica,Arial,sans-serif;color:#1b1f24;margin:2em auto;max-width:60em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
h3{margin-bottom:.3em}table{border-collapse:collapse;width:100%;margin:.5em 0;font-size:.85em}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f6f8fa}
.badge{display:inline-block;padding:.05em .5em;border-radius:.6em;font-size:.8em;font-weight:bold;color:#fff}
.pass{background:#1a7f37}.fail{background:#cf222e}.manual{background:#9a6700}.info{background:#57606a}
.flags{border:2px solid #cf222e;background:#ffebe9;padding:.6em 1em}.ok{border:2px solid #1a7f37;background:#dafbe1;padding:.6em 1em}
.meta td:first-child{width:12em;font-weight:bold}pre{background:#f6f8fa;padding:.5em;white-space:pre-wrap;font-size:.8em}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{flex:1 1 28em;max-width:36em}svg text{font-size:11px;fill:#1b1f24}
.control{break-inside:avoid-page}.zero{background:#ffebe9}
@media print{body{margin:0;max-width:none}h2{break-before:auto}.control,.chart,table{break-inside:avoid}}
@page{size:A4;margin:15mm}
";

/// A vertical bar chart of `(label, value)`.
fn column_chart(title: &str, points: &[(String, u64)]) -> String {
    let (w, h, left, bottom) = (560.0_f64, 220.0_f64, 50.0_f64, 40.0_f64);
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let n = points.len().max(1) as f64;
    let step = (w - left - 10.0) / n;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = esc(title)
    );
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"10\" x2=\"{left}\" y2=\"{y}\" stroke=\"#57606a\"/><line x1=\"{left}\" y1=\"{y}\" x2=\"{x}\" y2=\"{y}\" stroke=\"#57606a\"/><text x=\"4\" y=\"16\">{max}</text><text x=\"4\" y=\"{y}\">0</text>",
        y = h - bottom,
        x = w - 10.0,
        max = max as u64
    );
    let label_every = (points.len() / 8).max(1);
    for (i, (label, value)) in points.iter().enumerate() {
        let bar = (*value as f64 / max) * (h - bottom - 10.0);
        let x = left + i as f64 * step + step * 0.1;
        let _ = write!(
            svg,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"#0969da\"><title>{}: {value}</title></rect>",
            h - bottom - bar,
            (step * 0.8).max(1.0),
            esc(label)
        );
        if i % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
                h - bottom + 14.0,
                esc(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart of `(label, value)`.
fn bar_chart(title: &str, points: &[(String, u64)]) -> String {
    let (w, row, label) = (560.0_f64, 20.0_f64, 200.0_f64);
    let h = row * points.len().max(1) as f64 + 10.0;
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = esc(title)
    );
    for (i, (name, value)) in points.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let len = (*value as f64 / max) * (w - label - 60.0);
        let short: String = name.chars().take(30).collect();
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\">{}</text><rect class=\"bar\" x=\"{label}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"#8250df\"><title>{}: {value}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{value}</text>",
            y + row * 0.65,
            esc(&short),
            row * 0.7,
            esc(name),
            label + len + 4.0,
            y + row * 0.65
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The page.
pub fn render(data: &ReportData) -> String {
    let mut h = String::new();
    let title = &data.pack.title;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>{} — {} to {}</title><style>{STYLE}</style></head><body>",
        esc(title),
        format_time(data.from_ms),
        format_time(data.to_ms)
    );
    let _ = write!(h, "<h1>{}</h1>", esc(title));
    let _ = write!(
        h,
        "<table class=\"meta\"><tr><td>Period</td><td>{} to {} (end excluded)</td></tr>\
         <tr><td>Pack</td><td>{} {} ({}), SHA-256 {}</td></tr><tr><td>Framework</td><td>{}</td></tr>\
         <tr><td>Generated</td><td>{}</td></tr><tr><td>Archives</td><td>{}</td></tr></table>",
        format_time(data.from_ms),
        format_time(data.to_ms),
        esc(&data.pack.name),
        esc(&data.pack.version),
        esc(&data.pack_origin),
        &data.pack_digest[..16.min(data.pack_digest.len())],
        esc(&data.pack.framework),
        format_time(data.generated_ms),
        data.archives
            .iter()
            .map(|(n, l)| format!("{} ({})", esc(n), esc(l)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if data.health.flags.is_empty() {
        let sealed: u64 = data.health.archives.iter().map(|a| a.sealed_events).sum();
        let chains: usize = data.health.archives.iter().map(|a| a.chains).sum();
        let _ = write!(
            h,
            "<p class=\"ok\" id=\"evidence-verdict\"><strong>Evidence verified.</strong> {chains} chain(s), {sealed} sealed event(s) \
             verified against the pinned keys up to the signed checkpoints listed below; every source reported in the period.</p>"
        );
    } else {
        h.push_str("<div class=\"flags\" id=\"evidence-verdict\"><strong>Attention: the evidence for this period is not whole.</strong><ul>");
        for flag in &data.health.flags {
            let _ = write!(h, "<li>{}</li>", esc(flag));
        }
        h.push_str("</ul></div>");
    }
    h.push_str("<h2>Summary</h2><p>");
    for (status, n) in data.status_counts() {
        let s = Status::parse(status).unwrap_or(Status::Info);
        let _ = write!(h, "{} {n} &nbsp; ", badge(s));
    }
    h.push_str("</p><table><tr><th>Control</th><th>Title</th><th>Status</th><th>Reason</th></tr>");
    for c in &data.controls {
        let _ = write!(
            h,
            "<tr><td><a href=\"#c-{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.control.title),
            badge(c.status),
            esc(&c.reason),
            id = esc(&c.control.id)
        );
    }
    h.push_str("</table>");
    h.push_str("<h2>Activity</h2><div class=\"charts\">");
    let days = data.charts.labelled_days();
    let _ = write!(
        h,
        "<div class=\"chart\" id=\"chart-per-day\"><h3>Events per day</h3>{}</div>",
        column_chart("Events per day", &days)
    );
    let _ = write!(
        h,
        "<div class=\"chart\" id=\"chart-top-actors\"><h3>Top actors</h3>{}</div>",
        bar_chart("Top actors", &data.charts.top_actors)
    );
    let _ = write!(
        h,
        "<div class=\"chart\" id=\"chart-per-source\"><h3>Events per source</h3>{}</div></div>",
        bar_chart("Events per source", &data.charts.per_source)
    );
    evidence_health(&mut h, data);
    h.push_str("<h2>Controls</h2>");
    for c in &data.controls {
        let _ = write!(
            h,
            "<section class=\"control\" id=\"c-{id}\"><h3>{id} {} {}</h3><p><em>{}</em></p><p>{}</p><p><strong>Why this evidence:</strong> {}</p><p><strong>Result:</strong> {}</p>",
            esc(&c.control.title),
            badge(c.status),
            esc(&c.control.framework),
            esc(&c.control.description),
            esc(&c.control.rationale),
            esc(&c.reason),
            id = esc(&c.control.id)
        );
        if let Some(sql) = &c.sql {
            if !c.rows.is_empty() {
                h.push_str("<table><tr>");
                for col in &c.columns {
                    let _ = write!(h, "<th>{}</th>", esc(col));
                }
                h.push_str("</tr>");
                for row in c.rows.iter().take(ROWS_SHOWN) {
                    h.push_str("<tr>");
                    for cell in row {
                        let _ = write!(h, "<td>{}</td>", esc(cell));
                    }
                    h.push_str("</tr>");
                }
                h.push_str("</table>");
            }
            let _ = write!(
                h,
                "<p>{} row(s){}; all kept rows in <code>{}</code>.</p><details><summary>Query</summary><pre>{}</pre></details>",
                c.total_rows,
                if c.rows.len() > ROWS_SHOWN {
                    format!(", the first {ROWS_SHOWN} shown")
                } else {
                    String::new()
                },
                esc(&super::bundle::csv_name(&c.control.id)),
                esc(sql.trim())
            );
        }
        h.push_str("</section>");
    }
    h.push_str("<h2>Archive state</h2><p>The report was computed over each chain up to this signed checkpoint; later events are excluded, so <code>auditfed report verify --rerun</code> reproduces it.</p><table><tr><th>Archive</th><th>Chain</th><th>Last seq</th><th>Checkpoint time</th></tr>");
    for s in &data.pinned.chains {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.archive),
            esc(&s.chain_id),
            s.last_seq,
            format_time(s.checkpoint_time_ms)
        );
    }
    h.push_str("</table><p>Verify this bundle: <code>auditfed report verify BUNDLE --keys KEYRING [--rerun --archive NAME=LOCATION]</code>.</p></body></html>\n");
    h
}

fn evidence_health(h: &mut String, data: &ReportData) {
    let health = &data.health;
    h.push_str("<h2 id=\"evidence-health\">Evidence health</h2><h3>Verification</h3><table><tr><th>Archive</th><th>Chains</th><th>Sealed events</th><th>Findings</th></tr>");
    for a in &health.archives {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.archive),
            a.chains,
            a.sealed_events,
            if a.findings.is_empty() {
                "none: complete and unaltered".to_owned()
            } else {
                a.findings
                    .iter()
                    .take(10)
                    .map(|f| esc(&f.to_string()))
                    .collect::<Vec<_>>()
                    .join("<br>")
            }
        );
    }
    h.push_str("</table><h3>Sources</h3><table><tr><th>Source</th><th>Events</th><th>Hours with events</th><th>Silent hours</th><th>Last event</th></tr>");
    for s in &health.sources {
        let _ = write!(
            h,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if s.events == 0 { " class=\"zero\"" } else { "" },
            esc(&s.source),
            s.events,
            s.active_hours,
            s.silent_hours,
            s.last_event_ms.map(format_time).unwrap_or_default()
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<p>API pollers' coverage: {}.</p>",
        match health.coverage_gaps {
            None => "no coverage table given".to_owned(),
            Some(0) => "every page follows the one before it (no gap)".to_owned(),
            Some(n) => format!("<strong>{n} gap(s)</strong>"),
        }
    );
    match &health.undelivered {
        None => h.push_str("<p>SIEM delivery: no receipts given.</p>"),
        Some(sinks) => {
            h.push_str("<h3>SIEM delivery</h3><table><tr><th>Sink</th><th>Events of the period not delivered</th></tr>");
            for (sink, n) in sinks {
                let _ = write!(h, "<tr><td>{}</td><td>{n}</td></tr>", esc(sink));
            }
            h.push_str("</table>");
        }
    }
    match &health.dead_letters {
        None => h.push_str("<p>Dead letters: not checked (no Kafka configured for the run).</p>"),
        Some(list) if list.is_empty() => h.push_str("<p>Dead letters: none in the period.</p>"),
        Some(list) => {
            h.push_str("<h3>Dead letters</h3><table><tr><th>Source</th><th>Reason</th><th>Records</th></tr>");
            for d in list {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&d.source),
                    esc(&d.reason),
                    d.count
                );
            }
            h.push_str("</table>");
        }
    }
}
