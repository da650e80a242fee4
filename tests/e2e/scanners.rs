//! Scanners come and go: a cashier yanks the cable and plugs it back in.

use std::time::Duration;

use crate::till::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_scanner_is_reported_and_read_again_once_plugged_back() {
    let mut till = Till::start_with(Options {
        sim: fast_sim(),
        scanner_symlink: true,
        ..Options::default()
    })
    .await;
    till.scan("7038010069307").await;
    till.expect("barcode", &[("data", "7038010069307")]).await;

    till.unplug();
    let gone = till
        .expect(
            "scanner",
            &[("scanner", "customer"), ("status", "disconnected")],
        )
        .await;
    assert!(
        gone["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{gone}"
    );
    let status = till.command(r#"{"v":1,"id":"s","type":"status"}"#).await;
    assert_eq!(status["result"]["scanners"][0]["state"], "disconnected");

    let unplugged_at = tokio::time::Instant::now();
    till.replug();
    till.expect(
        "scanner",
        &[("scanner", "customer"), ("status", "connected")],
    )
    .await;
    // Reopened within a second of the device being back (the source retries every 500 ms).
    assert!(
        unplugged_at.elapsed() < Duration::from_secs(5),
        "reconnected after {:?}",
        unplugged_at.elapsed()
    );
    till.scan("7038010069314").await;
    till.expect("barcode", &[("data", "7038010069314")]).await;
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_lists_the_configured_scanner_and_its_state() {
    let mut till = Till::start(fast_sim()).await;
    let reply = till.command(r#"{"v":1,"id":"d","type":"devices"}"#).await;
    let scanners = reply["result"]["scanners"].as_array().expect("scanners");
    assert_eq!(scanners.len(), 1, "{reply}");
    assert_eq!(scanners[0]["name"], "customer");
    assert_eq!(scanners[0]["kind"], "serial");
    assert_eq!(scanners[0]["state"], "connected");
    assert!(reply["result"]["detected"].is_array(), "{reply}");
    till.stop().await;
}
