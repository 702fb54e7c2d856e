//! Printing results: human text by default, JSON with `--output json`, from one type per result that
//! implements both `Display` and `Serialize` so the two never drift apart.

use crate::cli::OutputFormat;
use serde::Serialize;
use std::fmt::Display;

pub(crate) fn print<T: Display + Serialize>(format: OutputFormat, value: &T) {
    match format {
        OutputFormat::Text => println!("{value}"),
        OutputFormat::Json => match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: could not encode the result as JSON: {e}"),
        },
    }
}
