//! The `loyaltyd` command line as a user meets it: the README's demo command, the canned
//! scenarios, and `check-config` on good and broken files.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_loyaltyd");
const WAIT: Duration = Duration::from_secs(60);

async fn run(args: &[&str]) -> std::process::Output {
    run_with_env(args, &[]).await
}

/// Runs loyaltyd with `env` added to (or, with `None`, removed from) its environment.
async fn run_with_env(
    args: &[&str],
    env: &[(&str, Option<&std::path::Path>)],
) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let child = command.output();
    tokio::time::timeout(WAIT, child)
        .await
        .expect("loyaltyd finished in time")
        .expect("loyaltyd ran")
}

#[tokio::test]
async fn every_listed_scenario_runs_to_its_expected_end() {
    let listed = run(&["demo", "--list-scenarios"]).await;
    assert!(listed.status.success());
    let listed = String::from_utf8(listed.stdout).expect("utf-8");
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        ["member-pays", "enroll-then-pay", "declined"]
            .iter()
            .all(|n| names.contains(n)),
        "{listed}"
    );
    for name in names {
        let out = run(&["demo", "--scenario", name]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "scenario {name} failed:\n{stderr}");
        assert!(stderr.contains(&format!("scenario {name}: ok")), "{stderr}");
        // Standard output is the register's view: JSON lines only.
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        }
    }
    let unknown = run(&["demo", "--scenario", "no-such-thing"]).await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there are: member-pays"));
}

#[tokio::test]
async fn interactive_demo_takes_scans_and_cashier_commands_on_stdin() {
    let mut demo = Command::new(BIN)
        .arg("demo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the demo");
    let mut stdin = demo.stdin.take().expect("stdin");
    let mut events = BufReader::new(demo.stdout.take().expect("stdout")).lines();
    let mut wait_for = async |kind: &str, fields: &[(&str, &str)]| {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = tokio::time::timeout_at(deadline, events.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {kind} {fields:?} from the demo"))
                .expect("read")
                .expect("demo still running");
            let event: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            if loyaltyd::demo::event_matches(&event, kind, fields) {
                return event;
            }
        }
    };
    stdin
        .write_all(b"https://qr.vipps.no/28/2/01/031/4712345678?v=1\n")
        .await
        .expect("scan");
    wait_for("customer", &[("member", "true")]).await;
    stdin
        .write_all(b"7038010069307\n/basket 499.00\n/pay\n")
        .await
        .expect("commands");
    wait_for("barcode", &[("data", "7038010069307"), ("role", "cashier")]).await;
    let captured = wait_for("payment", &[("status", "captured")]).await;
    assert_eq!(captured["amount"]["value"], 49_900);
    stdin.write_all(b"/quit\n").await.expect("quit");
    let status = tokio::time::timeout(WAIT, demo.wait())
        .await
        .expect("the demo stops on /quit")
        .expect("exit status");
    assert!(status.success());
}

#[tokio::test]
async fn check_config_accepts_the_example_and_names_key_and_line_of_a_mistake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = include_str!("../config/loyaltyd.example.toml");
    // Secret files next to the config, private, as the example describes.
    write_secrets(dir.path(), 0o640);
    let good = dir.path().join("config.toml");
    std::fs::write(&good, example).expect("write config");
    let out = run(&["check-config", "--config", good.to_str().expect("utf-8")]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (lane till-1, 2 scanner(s)"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, example.replace("baud = 9600", "baud = \"fast\"")).expect("write");
    let out = run(&["check-config", "--config", bad.to_str().expect("utf-8")]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = 1 + example
        .lines()
        .position(|l| l == "baud = 9600")
        .expect("the example sets baud");
    assert!(
        stderr.contains(&format!("line {line}")) && stderr.contains("expected u32"),
        "{stderr}"
    );
}

/// The example configuration's two secret files in `dir`, with `mode`.
fn write_secrets(dir: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["client_secret", "subscription_key"] {
        let path = dir.join(name);
        std::fs::write(&path, "not-a-real-secret\n").expect("write secret");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

/// The shared scanner fixtures, beside this checkout.
fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// The `data` of every scan `loyaltyd decode` prints for `file`; every line must be JSON with
/// either a scan's three keys or an error.
async fn decoded(format: &str, layout: &str, file: &std::path::Path) -> Vec<serde_json::Value> {
    let path = file.to_str().expect("utf-8 path");
    let output = run(&["decode", "--format", format, "--layout", layout, path]).await;
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .filter(|value| {
            if value.get("error").is_some() {
                return false;
            }
            let kind = value["kind"].as_str().expect("kind");
            assert!(
                ["vipps-personal", "token", "other"].contains(&kind),
                "{value}"
            );
            true
        })
        .collect()
}

#[tokio::test]
async fn decode_prints_every_fixture_as_expected() {
    let mut checked = 0;
    for (dir, format, layout, ext) in [
        ("serial", "serial", "us", "bin"),
        ("hid-pos", "hid-pos", "us", "hex"),
        ("hid-keyboard/us", "hid-keyboard", "us", "hex"),
        ("hid-keyboard/no", "hid-keyboard", "no", "hex"),
    ] {
        let dir = fixtures().join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == ext))
            .collect();
        files.sort();
        for file in files {
            let expected =
                std::fs::read_to_string(file.with_extension("expected")).expect("expected");
            let scans = decoded(format, layout, &file).await;
            let want: Vec<(Option<String>, String)> = expected
                .lines()
                .filter(|l| !l.is_empty())
                .map(
                    |line| match serde_json::from_str::<serde_json::Value>(line) {
                        Ok(v) if v.is_object() => (
                            v["symbology"].as_str().map(str::to_owned),
                            v["data"].as_str().expect("data").to_owned(),
                        ),
                        _ => (None, line.to_owned()),
                    },
                )
                .collect();
            let got: Vec<(Option<String>, String)> = scans
                .iter()
                .map(|s| {
                    (
                        s["symbology"].as_str().map(str::to_owned),
                        s["data"].as_str().expect("data").to_owned(),
                    )
                })
                .collect();
            assert_eq!(
                got.len(),
                want.len(),
                "{}: {got:?} for {want:?}",
                file.display()
            );
            // Text fixtures list data only; the symbology is checked where they give it.
            let got: Vec<_> = got
                .into_iter()
                .zip(&want)
                .map(|((symbology, data), (want_symbology, _))| {
                    (symbology.filter(|_| want_symbology.is_some()), data)
                })
                .collect();
            assert_eq!(got, want, "{}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} fixtures found");
}

#[tokio::test]
async fn secrets_come_from_systemd_credentials_and_an_open_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    // The configuration names the secrets by bare name; systemd's LoadCredential= puts them in
    // $CREDENTIALS_DIRECTORY, not next to the configuration file.
    let etc = tempfile::tempdir().expect("tempdir");
    let credentials = tempfile::tempdir().expect("tempdir");
    let config = etc.path().join("config.toml");
    std::fs::write(&config, include_str!("../config/loyaltyd.example.toml")).expect("write");
    write_secrets(credentials.path(), 0o400);
    let config = config.to_str().expect("utf-8");
    let check = ["check-config", "--config", config];

    let out = run_with_env(
        &check,
        &[("CREDENTIALS_DIRECTORY", Some(credentials.path()))],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without the credentials directory the bare names are looked for next to the config.
    let out = run_with_env(&check, &[("CREDENTIALS_DIRECTORY", None)]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("client_secret_file") && stderr.contains("cannot read"),
        "{stderr}"
    );

    // A secret others may read is refused, with the fix, and never quoted.
    let open = credentials.path().join("client_secret");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run_with_env(
        &check,
        &[("CREDENTIALS_DIRECTORY", Some(credentials.path()))],
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("accessible by others") && stderr.contains("chmod o-rwx"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-a-real-secret"), "{stderr}");
}

#[tokio::test]
async fn decode_reads_a_capture_as_the_configured_scanner_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = include_str!("../config/loyaltyd.example.toml");
    write_secrets(dir.path(), 0o640);
    // The cashier scanner frames its scans with STX and ETX.
    let config = dir.path().join("config.toml");
    let stx_etx = example.replace("terminator = \"newline\"", "terminator = \"stx-etx\"");
    assert_ne!(
        stx_etx, example,
        "the example sets the cashier's terminator"
    );
    std::fs::write(&config, stx_etx).expect("write config");
    let capture = dir.path().join("capture.bin");
    std::fs::write(
        &capture,
        b"\x02]E07038010069307\x03\x02]Q1https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp\x03",
    )
    .expect("write capture");
    let capture = capture.to_str().expect("utf-8");
    let config = config.to_str().expect("utf-8");

    let as_configured = run(&[
        "decode",
        "--config",
        config,
        "--scanner",
        "cashier",
        capture,
    ])
    .await;
    assert!(as_configured.status.success(), "{as_configured:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8(as_configured.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"symbology": "]E0", "data": "7038010069307", "kind": "other"}),
            serde_json::json!({"symbology": "]Q1", "data": "https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp", "kind": "token"}),
        ]
    );

    // With the default (newline) framing the same bytes are no scan at all: the control
    // characters are reported.
    let defaults = run(&["decode", "--format", "serial", capture]).await;
    assert!(defaults.status.success(), "{defaults:?}");
    let stdout = String::from_utf8(defaults.stdout).expect("utf-8");
    assert!(stdout.lines().all(|l| l.contains("\"error\"")), "{stdout}");

    // A scanner the configuration does not have is named, with the ones it has.
    let unknown = run(&["decode", "--config", config, "--scanner", "front", capture]).await;
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no scanner \"front\"") && stderr.contains("cashier, customer"),
        "{stderr}"
    );
}

#[tokio::test]
async fn decode_names_the_kind_and_reports_what_is_not_a_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("capture.bin");
    std::fs::write(
        &file,
        b"]Q1https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp\r\n\xff\xfe\r\n7038010069307\r\n",
    )
    .expect("write");
    let output = run(&["decode", "--format", "serial", file.to_str().expect("path")]).await;
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["kind"], "token");
    assert_eq!(lines[0]["symbology"], "]Q1");
    assert!(lines[1]["error"].as_str().is_some(), "{}", lines[1]);
    assert_eq!(lines[2]["kind"], "other");

    let missing = run(&["decode", "--format", "serial", "/nonexistent/capture"]).await;
    assert_eq!(missing.status.code(), Some(2));
    let bad_layout = run(&["decode", "--format", "hid-keyboard", "--layout", "xx", "-"]).await;
    assert_eq!(
        bad_layout.status.code(),
        Some(2),
        "clap refuses an unknown layout"
    );
}
