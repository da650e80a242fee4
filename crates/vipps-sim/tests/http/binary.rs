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

#[tokio::test]
async fn binary_injects_the_faults_given_on_the_command_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vipps-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "3",
            "--fault",
            "token=status:503x1",
            "--fault",
            "qr=rate-limit:2s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let base = bounded(BufReader::new(stdout).lines().next_line())
        .await
        .unwrap()
        .expect("a base URL line");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = || {
        http.post(format!("{base}/accesstoken/get"))
            .header("client_id", "sim-client-id")
            .header("client_secret", "sim-client-secret")
            .header("Ocp-Apim-Subscription-Key", "sim-subscription-key")
            .send()
    };
    assert_eq!(token().await.unwrap().status(), 503, "the first rule, once");
    let token: Value = token().await.unwrap().json().await.unwrap();
    let exchange = http
        .post(format!("{base}/qr/v1/exchange"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("Ocp-Apim-Subscription-Key", "sim-subscription-key")
        .header("Merchant-Serial-Number", "123456")
        .json(&json!({ "qrCode": "https://qr.vipps.no/28/2/01/031/4712345678?v=1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(exchange.status(), 429);
    assert_eq!(exchange.headers()["retry-after"], "2");

    let listed: Value = http
        .get(format!("{base}/_sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["rules"][1]["fault"], "rate-limit:2s");
    assert_eq!(listed["stats"]["token"]["requests"], 2);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn binary_explains_a_bad_fault_rule() {
    for (spec, expected) in [
        ("epayment.create", "ENDPOINT=FAULT"),
        ("payments=reset", "unknown endpoint"),
        ("qr=status:503@2", "not a rate"),
    ] {
        let output = bounded(
            Command::new(env!("CARGO_BIN_EXE_vipps-sim"))
                .args(["--listen", "127.0.0.1:0", "--fault", spec])
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap();
        assert!(!output.status.success(), "{spec}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{spec}: {stderr}");
    }
}
