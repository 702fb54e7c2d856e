//! The Lambda functions' configuration, read once at start-up. `beekeeper deploy` sets these variables;
//! a function started without one fails its cold start with the variable's name instead of failing every
//! request later with a vaguer error.
//!
//! Each reader takes a lookup function so the rules are tested without touching the process environment.

use crate::Error;

pub const TABLE: &str = "BK_TABLE";
pub const QUEUE_URL: &str = "BK_QUEUE_URL";
/// The front of the line: visitors let in again after their turn passed while they were away.
pub const FRONT_QUEUE_URL: &str = "BK_FRONT_QUEUE_URL";
pub const CONSUMER_FUNCTION: &str = "BK_CONSUMER_FUNCTION";
pub const WINDOW_MS: &str = "BK_WINDOW_MS";
/// The URL the drt function probes instead of the destination; unset means the destination.
pub const HEALTH_URL: &str = "BK_HEALTH_URL";
pub const DISPLAY_NAME: &str = "BK_DISPLAY_NAME";
pub const ACCENT_COLOUR: &str = "BK_ACCENT_COLOUR";
pub const LOGO: &str = "BK_LOGO";
/// The Secrets Manager secret holding the pass's signing key (its name; only the consumer reads it).
pub const PASS_SECRET: &str = "BK_PASS_SECRET";

/// A release minute, unless a test or demo shortens it.
pub const DEFAULT_WINDOW_MS: u64 = 60_000;

/// Reads the process environment (a variable that is not valid Unicode counts as set but invalid).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

fn required(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, Error> {
    match get(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Some(_) => Err(Error::Env {
            name,
            problem: "is empty; `beekeeper deploy` sets it, so redeploy the profile".into(),
        }),
        None => Err(Error::Env {
            name,
            problem: "is not set; `beekeeper deploy` sets it, so redeploy the profile".into(),
        }),
    }
}

fn window_ms(get: &impl Fn(&str) -> Option<String>) -> Result<u64, Error> {
    let Some(raw) = get(WINDOW_MS) else {
        return Ok(DEFAULT_WINDOW_MS);
    };
    match raw.trim().parse::<u64>() {
        Ok(ms) if (1_000..=DEFAULT_WINDOW_MS).contains(&ms) => Ok(ms),
        _ => Err(Error::Env {
            name: WINDOW_MS,
            problem: format!(
                "is {raw:?}; it must be a whole number of milliseconds from 1000 to {DEFAULT_WINDOW_MS}, \
                 or unset for {DEFAULT_WINDOW_MS}"
            ),
        }),
    }
}

/// The producer's and the consumer's settings: the table and both lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEnv {
    pub table: String,
    pub queue_url: String,
    pub front_queue_url: String,
}

impl QueueEnv {
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(QueueEnv {
            table: required(&get, TABLE)?,
            queue_url: required(&get, QUEUE_URL)?,
            front_queue_url: required(&get, FRONT_QUEUE_URL)?,
        })
    }
}

/// The consumer's settings: the queue and table, and the secret its passes are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerEnv {
    pub queue: QueueEnv,
    pub pass_secret: String,
}

impl ConsumerEnv {
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(ConsumerEnv {
            queue: QueueEnv::read(&get)?,
            pass_secret: required(&get, PASS_SECRET)?,
        })
    }
}

/// The trigger's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerEnv {
    pub table: String,
    pub queue_url: String,
    pub front_queue_url: String,
    pub consumer_function: String,
    /// The span consumers spread a minute's releases over; must not exceed the schedule's minute.
    pub window_ms: u64,
}

impl TriggerEnv {
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(TriggerEnv {
            table: required(&get, TABLE)?,
            queue_url: required(&get, QUEUE_URL)?,
            front_queue_url: required(&get, FRONT_QUEUE_URL)?,
            consumer_function: required(&get, CONSUMER_FUNCTION)?,
            window_ms: window_ms(&get)?,
        })
    }
}

/// The DRT function's settings. The destination lives on the room item; a separate health URL, when the
/// operator sets one, comes from the environment: only this function reads it, and the room item is read
/// by every `/poll`, so it carries nothing the waiting path does not need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrtEnv {
    pub table: String,
    pub health_url: Option<String>,
}

impl DrtEnv {
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let health_url = match get(HEALTH_URL).map(|u| u.trim().to_string()) {
            None => None,
            Some(u) if u.is_empty() => None,
            Some(u) => {
                beekeeper_core::config::validate_health_url(&u).map_err(|e| Error::Env {
                    name: HEALTH_URL,
                    problem: format!("{e}; fix `health_url` in the profile and redeploy"),
                })?;
                Some(u)
            }
        };
        Ok(DrtEnv {
            table: required(&get, TABLE)?,
            health_url,
        })
    }
}

/// What the producer's page shows. Read from the environment, not the room item: it is fixed for the
/// life of a container (so the page and its CSP hashes are built once), it is only changed by a deploy
/// (which also uploads the logo), and no request pays a read for it.
pub fn page_branding(get: impl Fn(&str) -> Option<String>) -> Result<crate::page::Branding, Error> {
    let display_name = required(&get, DISPLAY_NAME)?;
    let optional = |name: &'static str, ok: fn(&str) -> bool, rule: &str| match get(name)
        .map(|v| v.trim().to_string())
    {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if ok(&v) => Ok(Some(v)),
        Some(v) => Err(Error::Env {
            name,
            problem: format!("is {v:?}; it must be {rule}; fix the profile and redeploy"),
        }),
    };
    Ok(crate::page::Branding {
        display_name,
        accent_colour: optional(
            ACCENT_COLOUR,
            crate::page::is_colour,
            "a colour like #b45309",
        )?,
        logo: optional(LOGO, crate::page::is_file_name, "a file name like logo.png")?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake environment of `pairs`, for every reader that takes one.
    pub(crate) fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn problem(e: Error) -> (&'static str, String) {
        match e {
            Error::Env { name, problem } => (name, problem),
            other => panic!("not an Env error: {other}"),
        }
    }

    #[test]
    fn reads_the_variables_each_function_needs() {
        let e = env(&[
            (TABLE, "beekeeper-sale-table"),
            (
                QUEUE_URL,
                " https://sqs.eu-west-1.amazonaws.com/1/beekeeper-sale-queue\n",
            ),
            (CONSUMER_FUNCTION, "beekeeper-sale-consumer"),
            (
                FRONT_QUEUE_URL,
                "https://sqs.eu-west-1.amazonaws.com/1/beekeeper-sale-front",
            ),
        ]);
        let q = QueueEnv::read(&e).unwrap();
        assert_eq!(
            q.queue_url,
            "https://sqs.eu-west-1.amazonaws.com/1/beekeeper-sale-queue"
        );
        assert!(q.front_queue_url.ends_with("beekeeper-sale-front"));
        let t = TriggerEnv::read(&e).unwrap();
        assert_eq!(
            (t.consumer_function.as_str(), t.window_ms),
            ("beekeeper-sale-consumer", 60_000)
        );
        assert_eq!(DrtEnv::read(&e).unwrap().table, "beekeeper-sale-table");
    }

    #[test]
    fn the_health_url_is_optional_and_checked() {
        let read = |url: &str| DrtEnv::read(env(&[(TABLE, "t"), (HEALTH_URL, url)]));
        assert_eq!(DrtEnv::read(env(&[(TABLE, "t")])).unwrap().health_url, None);
        assert_eq!(read("  ").unwrap().health_url, None);
        assert_eq!(
            read(" https://shop.example.com/healthz\n")
                .unwrap()
                .health_url
                .as_deref(),
            Some("https://shop.example.com/healthz")
        );
        let (name, p) = problem(read("ftp://shop.example.com/").unwrap_err());
        assert_eq!(name, HEALTH_URL);
        assert!(p.contains("health URL") && p.contains("redeploy"), "{p}");
    }

    #[test]
    fn a_missing_or_empty_variable_is_named() {
        let (name, p) = problem(QueueEnv::read(env(&[(TABLE, "t")])).unwrap_err());
        assert_eq!(name, QUEUE_URL);
        assert!(p.contains("not set"));
        let (name, _) =
            problem(QueueEnv::read(env(&[(TABLE, "t"), (QUEUE_URL, "q")])).unwrap_err());
        assert_eq!(
            name, FRONT_QUEUE_URL,
            "a producer without the front cannot readmit anyone"
        );
        let (name, p) = problem(DrtEnv::read(env(&[(TABLE, "  ")])).unwrap_err());
        assert_eq!(name, TABLE);
        assert!(p.contains("empty"));
        let trigger = [(TABLE, "t"), (QUEUE_URL, "q"), (FRONT_QUEUE_URL, "f")];
        let (name, _) = problem(TriggerEnv::read(env(&trigger)).unwrap_err());
        assert_eq!(name, CONSUMER_FUNCTION);
        let msg = QueueEnv::read(env(&[])).unwrap_err().to_string();
        assert!(msg.starts_with("environment variable BK_TABLE"), "{msg}");
    }

    #[test]
    fn the_window_is_optional_but_checked() {
        let base = [
            (TABLE, "t"),
            (QUEUE_URL, "q"),
            (FRONT_QUEUE_URL, "f"),
            (CONSUMER_FUNCTION, "c"),
        ];
        let with = |w: &str| {
            let mut pairs = base.to_vec();
            pairs.push((WINDOW_MS, w));
            TriggerEnv::read(env(&pairs))
        };
        assert_eq!(with("2000").unwrap().window_ms, 2000);
        assert_eq!(with("60000").unwrap().window_ms, 60_000);
        for bad in ["", "abc", "-1", "999", "60001", "1.5"] {
            let (name, p) = problem(with(bad).unwrap_err());
            assert_eq!(name, WINDOW_MS, "{bad:?}");
            assert!(p.contains("1000 to 60000"), "{p}");
        }
    }

    #[test]
    fn the_page_branding_is_read_and_checked() {
        let b = page_branding(env(&[(DISPLAY_NAME, "Drop"), (ACCENT_COLOUR, "#123abc")])).unwrap();
        assert_eq!(
            (b.display_name.as_str(), b.accent_colour.as_deref(), b.logo),
            ("Drop", Some("#123abc"), None)
        );
        let (name, why) =
            problem(page_branding(env(&[(DISPLAY_NAME, "D"), (LOGO, "../x")])).unwrap_err());
        assert_eq!(name, LOGO);
        assert!(why.contains("logo.png"), "{why}");
        assert_eq!(
            problem(page_branding(env(&[])).unwrap_err()).0,
            DISPLAY_NAME
        );
    }
}
