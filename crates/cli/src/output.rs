//! Printing results: human text by default, JSON with `--output json`, from one type per result that
//! implements both `Display` and `Serialize` so the two never drift apart.

use crate::cli::OutputFormat;
use serde::Serialize;
use std::fmt::Display;
use std::io::Write;

pub(crate) fn print<T: Display + Serialize>(format: OutputFormat, value: &T) {
    match format {
        OutputFormat::Text => emit(value),
        OutputFormat::Json => match serde_json::to_string_pretty(value) {
            Ok(s) => emit(&s),
            Err(e) => eprintln!("error: could not encode the result as JSON: {e}"),
        },
    }
}

/// Writes one result of a series on one line (`watch` without a terminal): its text, or compact JSON,
/// so each line is one JSON object. False once the reader went away, which ends the series.
pub(crate) fn line<T: Display + Serialize>(format: OutputFormat, value: &T) -> bool {
    let text = match format {
        OutputFormat::Text => value.to_string(),
        OutputFormat::Json => match serde_json::to_string(value) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: could not encode the result as JSON: {e}");
                return false;
            }
        },
    };
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("error: could not print the result: {e}");
            }
            false
        }
    }
}

/// Writes generated text (a completion script, the man page) to stdout as it is.
pub(crate) fn raw(bytes: &[u8]) {
    write_out(|out| out.write_all(bytes));
}

/// Writes one result to stdout.
fn emit(value: &dyn Display) {
    write_out(|out| writeln!(out, "{value}"));
}

/// A reader that went away (`beekeeper status | head -1`) is not an error of the command, whose work is
/// done: `println!` would panic there, so the write's failure is dropped.
fn write_out(write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = write(&mut out).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: could not print the result: {e}");
        }
    }
}

/// 1234567.8 → "1,234,568".
pub(crate) fn grouped(v: f64) -> String {
    let n = v.round().max(0.0) as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
