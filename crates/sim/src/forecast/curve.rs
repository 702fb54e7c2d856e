//! The crowd's arrival curve: a burst of N visitors spread evenly over a duration, or a CSV of arrivals
//! per minute. Both become arrivals per second, which is what API Gateway's limits are counted in.
//! Parsing names the offending line and the fix, because the file is the operator's own.

use crate::Error;

/// Arrivals per second from the start of the sale (fractions allowed: a mean, not a draw).
#[derive(Debug, Clone, PartialEq)]
pub struct Arrivals {
    pub per_second: Vec<f64>,
}

impl Arrivals {
    /// `visitors` spread evenly over `secs` seconds.
    pub fn burst(visitors: u64, secs: u64) -> Result<Arrivals, Error> {
        if visitors == 0 {
            return Err(Error::Input(
                "0 visitors: give the crowd you expect, e.g. --visitors 300000".into(),
            ));
        }
        if secs == 0 {
            return Err(Error::Input(
                "the arrivals last 0 seconds: give at least 1 s, e.g. --over 60s".into(),
            ));
        }
        let each = visitors as f64 / secs as f64;
        Ok(Arrivals {
            per_second: vec![each; secs as usize],
        })
    }

    /// Each minute's arrivals spread evenly over its 60 seconds.
    pub fn per_minute(minutes: &[u64]) -> Result<Arrivals, Error> {
        if minutes.iter().all(|m| *m == 0) {
            return Err(Error::Input(
                "the curve has no arrivals: give at least one minute with visitors".into(),
            ));
        }
        let per_second = minutes
            .iter()
            .flat_map(|m| std::iter::repeat_n(*m as f64 / 60.0, 60))
            .collect();
        Ok(Arrivals { per_second })
    }

    pub fn total(&self) -> f64 {
        self.per_second.iter().sum()
    }

    /// The same shape holding `visitors` in all (a curve used as a shape for a crowd given separately).
    pub fn scaled_to(&self, visitors: u64) -> Result<Arrivals, Error> {
        if visitors == 0 {
            return Arrivals::burst(0, 1);
        }
        let k = visitors as f64 / self.total();
        Ok(Arrivals {
            per_second: self.per_second.iter().map(|a| a * k).collect(),
        })
    }
}

const CURVE_FORMAT: &str = "each line is \"minute,arrivals\" (e.g. \"0,120000\") or just \"arrivals\" for \
                            consecutive minutes; lines starting with # are comments";

/// Parses a CSV of arrivals per minute. A line is `arrivals` (consecutive minutes) or
/// `minute,arrivals` (minutes from 0, increasing; a skipped minute has no arrivals). A first line
/// without digits is a header; blank lines and `#` comments are skipped. Commas separate columns, so
/// numbers are written 120000 or 120_000.
pub fn parse_curve(text: &str) -> Result<Vec<u64>, Error> {
    let mut minutes: Vec<u64> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if n == 1 && !line.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let bad = |problem: String| Error::Curve {
            line: n,
            content: raw.to_string(),
            problem: format!("{problem}; {CURVE_FORMAT}"),
        };
        let cols: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
        let (minute, arrivals) = match cols.as_slice() {
            [a] => (minutes.len() as u64, *a),
            [m, a] => {
                let m =
                    whole(m).ok_or_else(|| bad(format!("minute {m:?} is not a whole number")))?;
                (m, *a)
            }
            _ => return Err(bad(format!("{} columns, expected 1 or 2", cols.len()))),
        };
        let arrivals = whole(arrivals)
            .ok_or_else(|| bad(format!("arrivals {arrivals:?} is not a whole number")))?;
        if (minute as usize) < minutes.len() {
            return Err(bad(format!(
                "minute {minute} comes after minute {}; minutes must increase",
                minutes.len() - 1
            )));
        }
        if minute > MAX_MINUTES {
            return Err(bad(format!(
                "minute {minute} is more than a week into the sale"
            )));
        }
        minutes.resize(minute as usize, 0);
        minutes.push(arrivals);
    }
    if minutes.is_empty() {
        return Err(Error::Input(format!(
            "the curve file has no data lines; {CURVE_FORMAT}"
        )));
    }
    Ok(minutes)
}

/// A week of minutes: a longer arrival curve is a mistake (or another sale).
const MAX_MINUTES: u64 = 7 * 24 * 60;

fn whole(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A duration such as `60s`, `90`, `5m`, `1h30m`, `2min`: whole seconds, above 0.
pub fn parse_duration(text: &str) -> Result<u64, Error> {
    let bad = |why: &str| {
        Error::Input(format!(
            "{text:?} is not a duration ({why}): use seconds or units, e.g. 60s, 90, 5m, 1h30m"
        ))
    };
    let s = text.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut total = 0u64;
    let mut rest = s.as_str();
    while !rest.is_empty() {
        let d: String = rest.chars().take_while(char::is_ascii_digit).collect();
        rest = rest[d.len()..].trim_start();
        let unit: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        rest = rest[unit.len()..].trim_start();
        if d.is_empty() {
            return Err(bad("a unit without a number"));
        }
        let secs = match unit.as_str() {
            "" | "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hour" | "hours" => 3600,
            other => return Err(bad(&format!("unknown unit {other:?}"))),
        };
        let n: u64 = d.parse().map_err(|_| bad("too large"))?;
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("too large"))?;
    }
    if total == 0 {
        return Err(bad("it is 0"));
    }
    if total > MAX_MINUTES * 60 {
        return Err(bad("longer than a week"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), 60);
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("5m").unwrap(), 300);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400);
        assert_eq!(parse_duration("2 min").unwrap(), 120);
        for bad in ["", "0s", "5x", "m", "-5s", "9999999h"] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains("e.g. 60s"), "{bad}: {e}");
        }
    }

    #[test]
    fn curves_with_and_without_minutes() {
        let c = parse_curve("minute,arrivals\n0,120000\n1, 60_000\n\n# lull\n3,30000\n").unwrap();
        assert_eq!(c, vec![120_000, 60_000, 0, 30_000]);
        assert_eq!(parse_curve("5\n10\n").unwrap(), vec![5, 10]);
        let a = Arrivals::per_minute(&c).unwrap();
        assert_eq!(a.per_second.len(), 240);
        assert_eq!(a.per_second[0], 2_000.0);
        assert_eq!(a.total(), 210_000.0);
    }

    #[test]
    fn a_bad_line_is_named_with_its_content() {
        let e = parse_curve("minute,arrivals\n0,100\n1,lots\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("line 3") && msg.contains("1,lots"), "{msg}");
        assert!(msg.contains("\"lots\" is not a whole number"), "{msg}");
        let e = parse_curve("0,100\n0,200\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("must increase"), "{e}");
        let e = parse_curve("1,2,3\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("3 columns"), "{e}");
        assert!(parse_curve("# nothing\n").is_err());
    }

    #[test]
    fn a_burst_is_spread_evenly() {
        let a = Arrivals::burst(300_000, 60).unwrap();
        assert_eq!(a.per_second, vec![5_000.0; 60]);
        assert!(Arrivals::burst(0, 60).is_err());
        assert!(Arrivals::per_minute(&[0, 0]).is_err());
        let s = Arrivals::per_minute(&[60, 180])
            .unwrap()
            .scaled_to(480)
            .unwrap();
        assert_eq!((s.per_second[0], s.per_second[60]), (2.0, 6.0));
    }
}
