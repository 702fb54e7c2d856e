//! What a user expects of a command-line tool in 2026 (issue 28, item 3): shell completions and a man page
//! generated from the commands themselves, `NO_COLOR` honoured on a terminal, and the exit statuses
//! documented where `--help` and the man page say them.

use crate::common::binary::isolated;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

fn stdout_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = isolated(dir.path()).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_name_every_command_for_every_shell_and_bash_loads_them() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout_of(&["completions", shell]);
        for command in ["deploy", "rotate-key", "set-rate", "completions"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
        assert!(
            script.contains("--revoke"),
            "{shell} lacks a subcommand's flag"
        );
    }
    // bash itself accepts the script and registers it for `beekeeper`.
    let script = stdout_of(&["completions", "bash"]);
    let out = Command::new("bash")
        .args([
            "--norc",
            "-c",
            "eval \"$1\" && complete -p beekeeper",
            "bash",
        ])
        .arg(&script)
        .output()
        .expect("bash runs");
    let registered = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && registered.contains("beekeeper"),
        "{out:?}"
    );
    // A shell clap does not know is refused with the choices, exit 2.
    let dir = tempfile::tempdir().unwrap();
    let bad = isolated(dir.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("possible values"));
}

#[test]
fn the_man_page_is_roff_with_every_command_and_the_exit_statuses() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH beekeeper 1"),
        "{page}"
    );
    assert!(page.contains(".TH beekeeper 1"));
    for command in ["deploy", "rotate\\-key", "plan", "man"] {
        assert!(page.contains(command), "no {command} in the man page");
    }
    assert!(page.contains("Exit status: 0 done; 1"), "{page}");
    // --help says the same.
    let help = stdout_of(&["--help"]);
    assert!(
        help.contains("130 cancelled") && help.contains("NO_COLOR"),
        "{help}"
    );
}

/// `beekeeper dev`'s narration on a terminal, up to its first arrival's line.
fn dev_narration(no_colour: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = isolated(dir.path());
    c.env_remove("NO_COLOR").env("TERM", "xterm");
    if no_colour {
        c.env("NO_COLOR", "1");
    }
    c.args(["dev", "--port", &port.to_string()]);
    let mut s = rexpect::session::spawn_command(c, Some(20_000)).unwrap();
    s.exp_string("Open in a browser").unwrap();
    let mut arrive = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        arrive,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    arrive.read_to_end(&mut answer).unwrap();
    s.exp_string("ticket 1").unwrap()
}

#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    let coloured = dev_narration(false);
    assert!(
        coloured.contains('\u{1b}'),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = dev_narration(true);
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
}
