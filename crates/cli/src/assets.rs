//! What the CLI adds to the waiting page: the operator's branding, handed to the producer (which holds
//! the page itself, compiled in, and answers `GET /` with it) and the logo, the one file the page
//! fetches separately (uploaded to the bucket under `room/`, or served by `dev`).

use beekeeper_core::config::RoomConfig;
use beekeeper_room::env;
use beekeeper_room::page::Branding;

/// The name under which an operator's logo is served, keeping its extension so browsers sniff nothing.
pub(crate) fn logo_name(path: &str) -> Option<String> {
    let ext = std::path::Path::new(path)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp"
    )
    .then(|| format!("logo.{ext}"))
}

/// What the producer's page shows, from the profile: the same in `dev` and in AWS (where it reaches the
/// producer through its environment, see [`producer_env`]).
pub(crate) fn page_branding(c: &RoomConfig) -> Branding {
    Branding {
        display_name: c.display_name.clone(),
        accent_colour: c.accent_colour.clone(),
        logo: c.logo.as_deref().and_then(logo_name),
    }
}

/// The producer function's environment variables for the page (the names `beekeeper_room::env` reads).
pub(crate) fn producer_env(c: &RoomConfig) -> Vec<(&'static str, String)> {
    let b = page_branding(c);
    let mut vars = vec![(env::DISPLAY_NAME, b.display_name)];
    if let Some(a) = b.accent_colour {
        vars.push((env::ACCENT_COLOUR, a));
    }
    if let Some(l) = b.logo {
        vars.push((env::LOGO, l));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_producer_gets_the_branding_it_reads() {
        let mut c: RoomConfig = toml::from_str(
            "profile = \"p\"\ndisplay_name = \"Drop\"\nregion = \"eu-west-1\"\n\
             destination = \"https://shop.example.com/\"\nrate = 60\ndrt = false\n\
             accent_colour = \"#123abc\"\nlogo = \"/tmp/Brand.SVG\"\n",
        )
        .unwrap();
        let vars: std::collections::HashMap<_, _> = producer_env(&c).into_iter().collect();
        let read = env::page_branding(|k| vars.get(k).cloned()).unwrap();
        assert_eq!(read, page_branding(&c));
        assert_eq!(read.logo.as_deref(), Some("logo.svg"));
        c.logo = None;
        c.accent_colour = None;
        assert_eq!(
            producer_env(&c),
            vec![(env::DISPLAY_NAME, "Drop".to_string())]
        );
    }

    #[test]
    fn logo_names_keep_only_image_extensions() {
        assert_eq!(logo_name("/home/me/Brand.PNG").as_deref(), Some("logo.png"));
        assert_eq!(logo_name("logo.exe"), None);
        assert_eq!(logo_name("noext"), None);
    }
}
