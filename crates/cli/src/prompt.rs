//! `init`'s questions. Each one re-asks until the answer passes the same core validator the flag goes
//! through, showing that validator's message, so a typo costs one retyped line rather than a rerun.

use crate::error::Result;
use crate::ui::{exit_on_interrupt, prompt_error};
use beekeeper_core::config::{COMMON_REGIONS, validate_rate, validate_region};
use dialoguer::console::Term;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Select};

/// A free-text answer; `default` is taken on an empty line.
pub(crate) fn text(
    prompt: &str,
    default: Option<&str>,
    validate: impl Fn(&str) -> std::result::Result<(), String>,
) -> Result<String> {
    exit_on_interrupt();
    let theme = ColorfulTheme::default();
    let mut input = Input::<String>::with_theme(&theme)
        .with_prompt(prompt)
        .validate_with(|s: &String| validate(s.trim()));
    if let Some(d) = default {
        input = input.default(d.to_string());
    }
    let answer = input
        .interact_text_on(&Term::stderr())
        .map_err(prompt_error)?;
    Ok(answer.trim().to_string())
}

/// Users per minute, as a number the room accepts.
pub(crate) fn rate(prompt: &str, default: u32) -> Result<u32> {
    let answer = text(prompt, Some(&default.to_string()), |s| {
        parse_rate(s).map(drop)
    })?;
    parse_rate(&answer).map_err(|_| beekeeper_core::Error::Rate { rate: 0 }.into())
}

fn parse_rate(s: &str) -> std::result::Result<u32, String> {
    let n = s
        .parse::<i64>()
        .map_err(|_| format!("{s:?} is not a number: enter whole users per minute, 1 to 100000"))?;
    validate_rate(n).map_err(|e| e.to_string())
}

/// Adapts a core validator (whose messages name the rule) to a prompt.
pub(crate) fn rule(
    check: impl Fn(&str) -> std::result::Result<(), beekeeper_core::Error>,
) -> impl Fn(&str) -> std::result::Result<(), String> {
    move |s| check(s).map_err(|e| e.to_string())
}

const OTHER_REGION: &str = "other…";

/// A region from the common list, or typed in.
pub(crate) fn region(default: &str) -> Result<String> {
    exit_on_interrupt();
    let theme = ColorfulTheme::default();
    let mut items: Vec<&str> = COMMON_REGIONS.to_vec();
    items.push(OTHER_REGION);
    let default_index = COMMON_REGIONS
        .iter()
        .position(|r| *r == default)
        .unwrap_or(COMMON_REGIONS.len());
    let chosen = Select::with_theme(&theme)
        .with_prompt("AWS region")
        .items(&items)
        .default(default_index)
        .interact_on(&Term::stderr())
        .map_err(prompt_error)?;
    match COMMON_REGIONS.get(chosen) {
        Some(r) => Ok((*r).to_string()),
        None => {
            let typed_default = (!COMMON_REGIONS.contains(&default)).then_some(default);
            text("Region code", typed_default, rule(validate_region))
        }
    }
}

pub(crate) fn yes_no(prompt: &str, default: bool) -> Result<bool> {
    exit_on_interrupt();
    Confirm::with_theme(&ColorfulTheme::default())
        .with_prompt(prompt)
        .default(default)
        .interact_on(&Term::stderr())
        .map_err(prompt_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_answer_must_be_a_whole_number_in_range() {
        let msg = parse_rate("lots").unwrap_err();
        assert!(
            msg.contains("not a number") && msg.contains("100000"),
            "{msg}"
        );
        assert!(
            parse_rate("0")
                .unwrap_err()
                .contains("between 1 and 100000")
        );
        assert_eq!(parse_rate("1200"), Ok(1200));
    }
}
