//! The waiting-room page, compiled into the binary so `deploy` uploads and `dev` serves exactly the files
//! this version of Beekeeper was tested with, wherever the binary runs.

use beekeeper_core::config::RoomConfig;
use serde::Serialize;

/// A file of the page, served at `{base}/room/{name}`.
pub(crate) struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:literal) => {
        Asset {
            name: $name,
            content_type: $ct,
            bytes: include_bytes!(concat!("../../../assets/waiting-room/", $name)),
        }
    };
}

pub(crate) const PAGE: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("room.css", "text/css; charset=utf-8"),
    asset!("room.js", "text/javascript; charset=utf-8"),
    asset!("strings.js", "text/javascript; charset=utf-8"),
    asset!("poll.js", "text/javascript; charset=utf-8"),
];

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

/// `room.json`: the display settings the page reads.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoomJson {
    pub display_name: String,
    pub accent_colour: Option<String>,
    pub logo: Option<String>,
}

impl RoomJson {
    pub(crate) fn from_config(c: &RoomConfig) -> RoomJson {
        RoomJson {
            display_name: c.display_name.clone(),
            accent_colour: c.accent_colour.clone(),
            logo: c.logo.as_deref().and_then(logo_name),
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        // Serialising a struct of strings cannot fail; an empty object would still render a page.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_file_is_embedded_and_index_references_the_scripts() {
        let index = std::str::from_utf8(PAGE[0].bytes).unwrap();
        for a in &PAGE[1..] {
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
            assert!(
                index.contains(a.name),
                "index.html does not load {}",
                a.name
            );
        }
    }

    #[test]
    fn logo_names_keep_only_image_extensions() {
        assert_eq!(logo_name("/home/me/Brand.PNG").as_deref(), Some("logo.png"));
        assert_eq!(logo_name("logo.exe"), None);
        assert_eq!(logo_name("noext"), None);
    }
}
