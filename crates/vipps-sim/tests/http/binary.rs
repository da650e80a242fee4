//! The `vipps-sim` binary: prints its base URL, loads a script, stops on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::bounded;

#[tokio::test]
async fn binary_serves_a_script_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("vipps-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.json");
    std::fs::write(
        &script,
        json!({ "qrTokens": { "https://qr.vipps.no/p/bin": "4799999999" } }).to_string(),
    )
    .unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_vipps-sim"))
        .args(["--listen", "127.0.0.1:0", "--script"])
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = bounded(lines.next_line())
        .await
        .unwrap()
        .expect("a base URL line");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token: Value = http
        .post(format!("{base}/accesstoken/get"))
        .header("client_id", "sim-client-id")
        .header("client_secret", "sim-client-secret")
        .header("Ocp-Apim-Subscription-Key", "sim-subscription-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let exchanged: Value = http
        .post(format!("{base}/qr/v1/exchange"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("Ocp-Apim-Subscription-Key", "sim-subscription-key")
        .header("Merchant-Serial-Number", "123456")
        .json(&json!({ "qrCode": "https://qr.vipps.no/p/bin" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exchanged["msisdn"], "4799999999");

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = bounded(child.wait()).await.unwrap();
    assert!(status.success(), "exit status {status}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn binary_refuses_a_bad_script() {
    let dir = std::env::temp_dir().join(format!("vipps-sim-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.json");
    std::fs::write(&script, r#"{"customers":{"+47":{}}}"#).unwrap();
    let output = bounded(
        Command::new(env!("CARGO_BIN_EXE_vipps-sim"))
            .args(["--listen", "127.0.0.1:0", "--script"])
            .arg(&script)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not an MSISDN"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
