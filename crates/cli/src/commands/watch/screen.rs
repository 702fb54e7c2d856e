//! The full-screen view of `watch` (ratatui): the room's state on top, the last minute's figures, the
//! last hour's charts, the alerts, and the keys. Drawing and the keys are pure over a [`Frame`] and
//! [`Keys`], so they are tested on ratatui's `TestBackend` at 80×24; `mod.rs` runs the terminal.

use super::frame::Frame;
use crate::output::grouped;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};

/// What a key asks the room to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Open (`true`) or close the room.
    Switch(bool),
    Rate(i64),
    Redrive,
}

/// Where the keys are: at rest, asking to confirm an action, or taking a new rate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Mode {
    #[default]
    Normal,
    Confirm(Action),
    Rate(String),
}

/// What a key press comes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    Quit,
    Do(Action),
}

/// The keys' state, and what the last action said.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub mode: Mode,
    pub said: Option<String>,
}

impl Keys {
    /// One key press; `open` is the room's state as shown. Closing the room, opening it and
    /// redriving ask for a `y` first: a stray key must not change a sale.
    pub(crate) fn press(&mut self, key: KeyCode, ctrl: bool, open: bool) -> Step {
        if ctrl && key == KeyCode::Char('c') {
            return Step::Quit;
        }
        match std::mem::take(&mut self.mode) {
            Mode::Normal => match key {
                KeyCode::Char('q') | KeyCode::Esc => return Step::Quit,
                KeyCode::Char('o') => self.mode = Mode::Confirm(Action::Switch(!open)),
                KeyCode::Char('d') => self.mode = Mode::Confirm(Action::Redrive),
                KeyCode::Char('r') => self.mode = Mode::Rate(String::new()),
                _ => {}
            },
            Mode::Confirm(action) => {
                if key == KeyCode::Char('y') {
                    return Step::Do(action);
                }
                self.said = Some("cancelled".into());
            }
            Mode::Rate(mut typed) => match key {
                KeyCode::Char(c) if c.is_ascii_digit() && typed.len() < 7 => {
                    typed.push(c);
                    self.mode = Mode::Rate(typed);
                }
                KeyCode::Backspace => {
                    typed.pop();
                    self.mode = Mode::Rate(typed);
                }
                KeyCode::Enter => match typed.parse() {
                    Ok(rate) => return Step::Do(Action::Rate(rate)),
                    Err(_) => self.said = Some("no rate typed: nothing changed".into()),
                },
                KeyCode::Esc => self.said = Some("cancelled".into()),
                _ => self.mode = Mode::Rate(typed),
            },
        }
        Step::Nothing
    }

    /// The bottom line: the keys, or the question being asked.
    fn bar(&self, open: bool) -> String {
        match &self.mode {
            Mode::Normal => format!(
                " o {} the room · r set the rate · d redrive · q quit",
                if open { "close" } else { "open" }
            ),
            Mode::Confirm(Action::Switch(false)) => {
                " Close the room? Visitors would go straight to the destination. y / n".into()
            }
            Mode::Confirm(Action::Switch(true)) => {
                " Open the room? Visitors would wait in line again. y / n".into()
            }
            Mode::Confirm(Action::Redrive) => " Put the dead letters back in line? y / n".into(),
            Mode::Confirm(Action::Rate(_)) => String::new(),
            Mode::Rate(typed) => {
                format!(" New rate a minute: {typed}_  (Enter sets it, Esc cancels)")
            }
        }
    }
}

/// Draws `frame` on the whole screen.
pub(crate) fn draw(tui: &mut ratatui::Frame, frame: &Frame, keys: &Keys) {
    let [title, now, charts, alerts, bar] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(tui.area());
    tui.render_widget(Paragraph::new(headline(frame)), title);
    tui.render_widget(
        Paragraph::new(figures(frame)).block(Block::bordered().title(" now ")),
        now,
    );
    draw_charts(tui, frame, charts);
    let mut said: Vec<Line> = keys
        .said
        .iter()
        .map(|s| Line::styled(format!("» {s}"), Style::new().fg(Color::Cyan)))
        .collect();
    said.extend(
        frame
            .alerts
            .iter()
            .map(|a| Line::styled(format!("! {}", a.say), Style::new().fg(Color::Yellow))),
    );
    if said.is_empty() {
        said.push(Line::raw("nothing needs you"));
    }
    tui.render_widget(
        Paragraph::new(said)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(Block::bordered().title(" alerts ")),
        alerts,
    );
    tui.render_widget(
        Paragraph::new(keys.bar(frame.open)).style(Style::new().add_modifier(Modifier::REVERSED)),
        bar,
    );
}

/// The top line: the room, open or off, the rate and DRT, the time.
fn headline(frame: &Frame) -> Line<'static> {
    let (state, color) = if frame.open {
        (" OPEN ", Color::Green)
    } else {
        (" OFF ", Color::Red)
    };
    let mut rate = format!(" {}/min", grouped(f64::from(frame.rate)));
    if frame.rate < frame.base_rate {
        rate.push_str(&format!(
            " (DRT, of {})",
            grouped(f64::from(frame.base_rate))
        ));
    }
    let drt = frame
        .drt
        .as_deref()
        .map(|d| format!(" · DRT: {d}"))
        .unwrap_or_default();
    Line::from(vec![
        Span::styled(
            format!(" {} ", frame.room),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled(state, Style::new().bg(color).fg(Color::Black)),
        Span::raw(rate),
        Span::raw(format!(" · {}", crate::commands::status::utc(frame.at))),
        Span::raw(drt),
    ])
}

/// The line, the last minute's flow, the gateway, the functions and the table, a row each.
fn figures(frame: &Frame) -> Vec<Line<'static>> {
    let n = |v: u64| grouped(v as f64);
    let l = &frame.line;
    let dead = l
        .dead_letters
        .map_or("no DLQ in dev".into(), |d| format!("{} dead letters", n(d)));
    let mut rows = vec![format!(
        "Line      {} waiting · {} in flight · {} returning · {dead}",
        n(l.waiting),
        n(l.in_flight),
        n(l.returning)
    )];
    match &frame.minute {
        Some(m) => {
            let confirmed = m
                .confirmations
                .map(|c| format!(" ({} confirmed)", n(c)))
                .unwrap_or_default();
            let span = if m.seconds == 60 {
                format!(
                    "in the minute from {}",
                    &crate::commands::status::utc(m.at)[11..16]
                )
            } else {
                format!("in the last {} s", m.seconds)
            };
            rows.push(format!("Arrived   {}{confirmed} {span}", n(m.arrivals)));
            let pct = m
                .moved_percent()
                .map_or(", of".into(), |p| format!(" = {p}% of"));
            rows.push(format!(
                "Released  {} + {} let in again + {} passed over{pct} {} planned",
                n(m.released),
                n(m.readmitted),
                n(m.passed_over),
                n(m.planned)
            ));
        }
        None => rows.push("Flow      no whole minute seen yet".into()),
    }
    if let Some(g) = &frame.gateway {
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
        rows.push(format!(
            "Gateway   {:.0} req/s · 4xx {} (429s too) · 5xx {} · p50 {} · p99 {}",
            g.requests_per_s,
            n(g.client_errors),
            n(g.server_errors),
            ms(g.latency_p50_ms),
            ms(g.latency_p99_ms)
        ));
    }
    if !frame.functions.is_empty() {
        let running: Vec<String> = frame
            .functions
            .iter()
            .map(|f| format!("{} {}", f.name, n(f.running)))
            .collect();
        rows.push(format!("Lambda    {} running at once", running.join(" · ")));
        let throttles: u64 = frame.functions.iter().map(|f| f.throttles).sum();
        let errors: u64 = frame.functions.iter().map(|f| f.errors).sum();
        let table = frame.table_throttles.unwrap_or(0);
        rows.push(format!(
            "Trouble   {} Lambda throttles · {} function errors · {} table throttles",
            n(throttles),
            n(errors),
            n(table)
        ));
    }
    let canary = match &frame.canary {
        Some(c) => {
            let took = c.last_took_secs.map_or(String::new(), |s| {
                format!(", last through in {}m{:02}s", s / 60, s % 60)
            });
            format!(" · canary {} in line{took}", c.out)
        }
        None => String::new(),
    };
    rows.push(format!(
        "In all    {} let through{canary}",
        n(frame.released_total)
    ));
    rows.into_iter().map(Line::raw).collect()
}

/// The last hour, a point a minute: arrivals, released, the line; as many minutes as fit.
fn draw_charts(tui: &mut ratatui::Frame, frame: &Frame, area: Rect) {
    let h = &frame.history;
    let charts: [(&str, &[u64], Color); 3] = [
        ("arrived/min", &h.arrivals, Color::Blue),
        ("released/min", &h.released, Color::Green),
        ("waiting", &h.waiting, Color::Magenta),
    ];
    let areas = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(area);
    for ((name, data, color), area) in charts.into_iter().zip(areas.iter()) {
        let fits = usize::from(area.width.saturating_sub(2));
        let shown = &data[data.len().saturating_sub(fits)..];
        let peak = shown.iter().copied().max().unwrap_or(0);
        let title = format!(" {name}, top {} ", grouped(peak as f64));
        let spark = Sparkline::default()
            .block(Block::default().borders(Borders::ALL).title(title))
            .data(shown)
            .style(Style::new().fg(color));
        tui.render_widget(spark, *area);
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::{Gateway, Line as Queue, Minute};
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn sale() -> Frame {
        let mut f = Frame {
            room: "drop".into(),
            at: 1_800_000_000,
            open: true,
            rate: 2400,
            base_rate: 3000,
            drt: Some("held: p95 820 ms over 600 ms".into()),
            line: Queue {
                waiting: 182_340,
                in_flight: 3000,
                returning: 12,
                dead_letters: Some(12),
            },
            released_total: 48_000,
            minute: Some(Minute {
                at: 1_799_999_940,
                seconds: 60,
                arrivals: 12_034,
                confirmations: Some(11_900),
                planned: 2400,
                released: 2390,
                readmitted: 10,
                passed_over: 134,
                unwritten: 0,
            }),
            gateway: Some(Gateway {
                requests_per_s: 1520.0,
                client_errors: 3,
                server_errors: 0,
                latency_p50_ms: Some(18.0),
                latency_p99_ms: Some(210.0),
            }),
            functions: ["producer", "trigger", "consumer", "drt"]
                .map(|name| super::super::frame::FunctionLoad {
                    name,
                    running: 4,
                    ..Default::default()
                })
                .to_vec(),
            table_throttles: Some(0),
            ..Frame::default()
        };
        f.history.arrivals = (0..60).map(|i| i * 200).collect();
        f.history.released = vec![2400; 60];
        f.history.waiting = (0..60).map(|i| i * 3000).collect();
        f.alerts = f.alerts();
        f
    }

    fn screen(frame: &Frame, keys: &Keys, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|tui| draw(tui, frame, keys)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn at_80_by_24_every_figure_an_operator_needs_is_on_screen() {
        let rows = screen(&sale(), &Keys::default(), 80, 24);
        let all = rows.join("\n");
        for want in [
            " drop ",
            "OPEN",
            "2,400/min (DRT, of 3,000)",
            "182,340 waiting",
            "12 dead letters",
            "12,034 (11,900 confirmed)",
            "2,390 + 10 let in again + 134 passed over = 105% of 2,400 planned",
            "134 passed over",
            "1520 req/s",
            "p99 210 ms",
            "0 function errors",
            "48,000 let through",
            "5xx 0",
            "consumer 4",
            "arrived/min, top 11,800",
            "waiting, top 177,000",
            "12 dead letters: press d to redrive",
            "o close the room",
            "q quit",
        ] {
            assert!(
                all.contains(want),
                "{want:?} is not on the 80x24 screen:\n{all}"
            );
        }
        assert!(rows[23].contains("q quit"), "the keys are the last row");
        // No row of figures is wider than the 78 columns inside the frame at 80, so none is cut.
        for line in figures(&sale()) {
            assert!(line.width() <= 78, "{} columns: {line}", line.width());
        }
        // Nothing was cut off the right edge mid-figure: every row of the figures ends in its frame.
        for row in &rows[1..10] {
            assert!(
                row.ends_with('│') || row.ends_with('┐') || row.ends_with('┘'),
                "{row}"
            );
        }
    }

    #[test]
    fn a_rehearsal_shows_the_same_screen_without_what_dev_does_not_have() {
        let mut f = sale();
        f.room = "dev".into();
        f.gateway = None;
        f.functions.clear();
        f.table_throttles = None;
        f.line.dead_letters = None;
        f.alerts = f.alerts();
        let all = screen(&f, &Keys::default(), 80, 24).join("\n");
        assert!(all.contains("12 returning · no DLQ in dev"), "{all}");
        for line in figures(&f) {
            assert!(line.width() <= 78, "{} columns: {line}", line.width());
        }
        assert!(
            !all.contains("Gateway") && all.contains("48,000 let through"),
            "{all}"
        );
    }

    #[test]
    fn closing_the_room_asks_first_and_a_stray_key_cancels() {
        let mut k = Keys::default();
        assert_eq!(k.press(KeyCode::Char('o'), false, true), Step::Nothing);
        assert!(k.bar(true).contains("Close the room?"));
        assert_eq!(k.press(KeyCode::Char('x'), false, true), Step::Nothing);
        assert_eq!(k.mode, Mode::Normal);
        assert_eq!(k.said.as_deref(), Some("cancelled"));
        k.press(KeyCode::Char('o'), false, true);
        assert_eq!(
            k.press(KeyCode::Char('y'), false, true),
            Step::Do(Action::Switch(false))
        );
        k.press(KeyCode::Char('o'), false, false);
        assert_eq!(
            k.press(KeyCode::Char('y'), false, false),
            Step::Do(Action::Switch(true))
        );
        k.press(KeyCode::Char('d'), false, true);
        assert_eq!(
            k.press(KeyCode::Char('y'), false, true),
            Step::Do(Action::Redrive)
        );
    }

    #[test]
    fn a_rate_is_typed_in_digits_and_set_with_enter() {
        let mut k = Keys::default();
        k.press(KeyCode::Char('r'), false, true);
        for c in "40x00".chars() {
            k.press(KeyCode::Char(c), false, true);
        }
        k.press(KeyCode::Backspace, false, true);
        assert!(
            k.bar(true).contains("New rate a minute: 400_"),
            "{}",
            k.bar(true)
        );
        assert_eq!(
            k.press(KeyCode::Enter, false, true),
            Step::Do(Action::Rate(400))
        );
        k.press(KeyCode::Char('r'), false, true);
        assert_eq!(k.press(KeyCode::Enter, false, true), Step::Nothing);
        assert_eq!(k.mode, Mode::Normal);
        assert_eq!(k.press(KeyCode::Char('c'), true, true), Step::Quit);
        assert_eq!(k.press(KeyCode::Char('q'), false, true), Step::Quit);
    }
}
