//! `report.pdf`: the report's content for print and e-mail, written with
//! `pdf-writer` (typst's PDF writer). Text is set in the PDF base-14 fonts
//! (Helvetica, Courier: nothing embedded), charts are drawn as vector
//! rectangles, A4 pages.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use auditfed_schemas::seal::format_time;

use super::pack::Status;
use super::run::ReportData;

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const ROWS_SHOWN: usize = 10;

/// Text as the base fonts' WinAnsi bytes: Latin-1 kept, other characters
/// as their nearest ASCII or `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{2014}' | '\u{2013}' => b'-',
            '\u{2018}' | '\u{2019}' => b'\'',
            '\u{201c}' | '\u{201d}' => b'"',
            '\u{2026}' => b'.',
            c if (c as u32) < 0x20 => b' ',
            c if (c as u32) < 0x7f || ((c as u32) >= 0xa0 && (c as u32) <= 0xff) => c as u8,
            _ => b'?',
        })
        .collect()
}

/// Lines of `text` that fit `width` points at `size` (Helvetica averages
/// about half an em per character).
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let max = ((width / (size * 0.5)) as usize).max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        if word.chars().count() > max {
            let chars: Vec<char> = word.chars().collect();
            for chunk in chars.chunks(max) {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line = chunk.iter().collect();
            }
        } else {
            line.push_str(word);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pages under construction, top to bottom.
struct Pages {
    done: Vec<Content>,
    page: Content,
    y: f32,
}

impl Pages {
    fn new() -> Pages {
        Pages {
            done: Vec::new(),
            page: Content::new(),
            y: HEIGHT - MARGIN,
        }
    }

    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            let page = std::mem::replace(&mut self.page, Content::new());
            self.done.push(page);
            self.y = HEIGHT - MARGIN;
        }
    }

    fn text_at(&mut self, x: f32, y: f32, font: &[u8], size: f32, text: &str) {
        self.page
            .begin_text()
            .set_font(Name(font), size)
            .next_line(x, y)
            .show(Str(&win_ansi(text)))
            .end_text();
    }

    fn para(&mut self, font: &[u8], size: f32, text: &str) {
        for line in wrap(text, size, WIDTH - 2.0 * MARGIN) {
            self.room(size * 1.35);
            self.y -= size * 1.35;
            let y = self.y;
            self.text_at(MARGIN, y, font, size, &line);
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn fill(&mut self, rgb: (f32, f32, f32), x: f32, y: f32, w: f32, h: f32) {
        self.page
            .save_state()
            .set_fill_rgb(rgb.0, rgb.1, rgb.2)
            .rect(x, y, w, h)
            .fill_nonzero()
            .restore_state();
    }

    /// Horizontal bars of `(label, value)`, under a heading.
    fn bars(&mut self, heading: &str, points: &[(String, u64)]) {
        self.para(b"F2", 11.0, heading);
        let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f32;
        for (label, value) in points {
            self.room(14.0);
            self.y -= 14.0;
            let y = self.y;
            let short: String = label.chars().take(34).collect();
            self.text_at(MARGIN, y + 2.0, b"F1", 8.0, &short);
            let len = value.to_owned() as f32 / max * 250.0;
            self.fill((0.51, 0.31, 0.87), MARGIN + 170.0, y, len.max(0.5), 9.0);
            self.text_at(
                MARGIN + 175.0 + len,
                y + 2.0,
                b"F1",
                8.0,
                &value.to_string(),
            );
        }
        self.gap(6.0);
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.page);
        self.done
    }
}

fn color(status: Status) -> (f32, f32, f32) {
    match status {
        Status::Pass => (0.10, 0.50, 0.22),
        Status::Fail => (0.81, 0.13, 0.18),
        Status::Manual => (0.60, 0.40, 0.0),
        Status::Info => (0.34, 0.38, 0.42),
    }
}

/// The PDF.
pub fn render(data: &ReportData) -> Vec<u8> {
    let mut p = Pages::new();
    p.para(b"F2", 18.0, &data.pack.title);
    p.gap(4.0);
    for line in [
        format!(
            "Period: {} to {} (end excluded)",
            format_time(data.from_ms),
            format_time(data.to_ms)
        ),
        format!(
            "Pack: {} {} ({}) - framework: {}",
            data.pack.name, data.pack.version, data.pack_origin, data.pack.framework
        ),
        format!("Generated: {}", format_time(data.generated_ms)),
        format!(
            "Archives: {}",
            data.archives
                .iter()
                .map(|(n, l)| format!("{n} ({l})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ] {
        p.para(b"F1", 9.0, &line);
    }
    p.gap(8.0);
    if data.health.flags.is_empty() {
        let sealed: u64 = data.health.archives.iter().map(|a| a.sealed_events).sum();
        p.para(
            b"F2",
            11.0,
            &format!(
                "Evidence verified: {sealed} sealed event(s) up to the signed checkpoints; every source reported in the period."
            ),
        );
    } else {
        p.para(
            b"F2",
            11.0,
            "ATTENTION: the evidence for this period is not whole.",
        );
        for flag in &data.health.flags {
            p.para(b"F1", 9.0, &format!("- {flag}"));
        }
    }
    p.gap(6.0);
    let counts: Vec<String> = data
        .status_counts()
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    p.para(b"F2", 13.0, &format!("Summary: {}", counts.join(", ")));
    p.gap(4.0);
    for c in &data.controls {
        p.room(14.0);
        p.y -= 14.0;
        let y = p.y;
        p.fill(color(c.status), MARGIN, y - 1.0, 40.0, 10.0);
        p.page.save_state().set_fill_rgb(1.0, 1.0, 1.0);
        p.text_at(
            MARGIN + 3.0,
            y + 1.0,
            b"F2",
            7.0,
            &c.status.as_str().to_uppercase(),
        );
        p.page.restore_state();
        let title: String = format!("{}  {}", c.control.id, c.control.title)
            .chars()
            .take(95)
            .collect();
        p.text_at(MARGIN + 46.0, y + 1.0, b"F1", 8.5, &title);
    }
    p.gap(10.0);
    let days = data.charts.labelled_days();
    p.bars("Events per day", &days);
    p.bars("Top actors", &data.charts.top_actors);
    p.bars("Events per source", &data.charts.per_source);
    p.para(b"F2", 13.0, "Evidence health");
    for a in &data.health.archives {
        p.para(
            b"F1",
            9.0,
            &format!(
                "Archive {}: {} chain(s), {} sealed event(s), {} verification finding(s)",
                a.archive,
                a.chains,
                a.sealed_events,
                a.findings.len()
            ),
        );
        for f in a.findings.iter().take(10) {
            p.para(b"F3", 7.5, &format!("  {f}"));
        }
    }
    for s in &data.health.sources {
        p.para(
            b"F1",
            9.0,
            &format!(
                "Source {}: {} event(s), {} hour(s) with events, {} silent",
                s.source, s.events, s.active_hours, s.silent_hours
            ),
        );
    }
    p.para(
        b"F1",
        9.0,
        &match data.health.coverage_gaps {
            None => "API pollers' coverage: no coverage table given".to_owned(),
            Some(n) => format!("API pollers' coverage: {n} gap(s)"),
        },
    );
    match &data.health.undelivered {
        None => p.para(b"F1", 9.0, "SIEM delivery: no receipts given"),
        Some(sinks) => {
            for (sink, n) in sinks {
                p.para(
                    b"F1",
                    9.0,
                    &format!("SIEM {sink}: {n} event(s) of the period not delivered"),
                );
            }
        }
    }
    match &data.health.dead_letters {
        None => p.para(b"F1", 9.0, "Dead letters: not checked"),
        Some(list) => p.para(
            b"F1",
            9.0,
            &format!(
                "Dead letters in the period: {}",
                list.iter().map(|d| d.count).sum::<u64>()
            ),
        ),
    }
    p.gap(8.0);
    p.para(b"F2", 13.0, "Controls");
    for c in &data.controls {
        p.gap(6.0);
        p.room(60.0);
        p.para(
            b"F2",
            10.5,
            &format!(
                "{} {} [{}]",
                c.control.id,
                c.control.title,
                c.status.as_str().to_uppercase()
            ),
        );
        p.para(b"F1", 8.5, &c.control.description);
        p.para(b"F1", 8.5, &format!("Result: {}", c.reason));
        if !c.rows.is_empty() {
            p.para(b"F3", 7.0, &c.columns.join(" | "));
            for row in c.rows.iter().take(ROWS_SHOWN) {
                let line: String = row.join(" | ").chars().take(400).collect();
                p.para(b"F3", 7.0, &line);
            }
            p.para(
                b"F1",
                8.0,
                &format!(
                    "{} row(s) in {}",
                    c.total_rows,
                    super::bundle::csv_name(&c.control.id)
                ),
            );
        }
    }
    p.gap(8.0);
    p.para(b"F2", 13.0, "Archive state");
    for s in &data.pinned.chains {
        p.para(
            b"F3",
            7.5,
            &format!(
                "{} {} up to seq {} (checkpoint {})",
                s.archive,
                s.chain_id,
                s.last_seq,
                format_time(s.checkpoint_time_ms)
            ),
        );
    }
    document(p.finish(), &data.pack.title)
}

fn document(pages: Vec<Content>, title: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let info = Ref::new(3);
    let fonts = [Ref::new(4), Ref::new(5), Ref::new(6)];
    let first_page = 10;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    pdf.document_info(info)
        .title(TextStr(title))
        .creator(TextStr("auditfed"));
    for (id, name) in fonts
        .iter()
        .zip([&b"Helvetica"[..], b"Helvetica-Bold", b"Courier"])
    {
        pdf.type1_font(*id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (i, content) in pages.into_iter().enumerate() {
        let id = page_ids[i];
        let content_id = Ref::new(id.get() + 1);
        let mut page = pdf.page(id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        let mut font_map = resources.fonts();
        font_map.pair(Name(b"F1"), fonts[0]);
        font_map.pair(Name(b"F2"), fonts[1]);
        font_map.pair(Name(b"F3"), fonts[2]);
        font_map.finish();
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::{win_ansi, wrap};

    #[test]
    fn text_wraps_and_maps_to_the_base_fonts() {
        let lines = wrap("one two three four five six seven", 10.0, 100.0);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(lines.join(" "), "one two three four five six seven");
        assert_eq!(win_ansi("a—b é 漢"), b"a-b \xe9 ?");
    }
}
