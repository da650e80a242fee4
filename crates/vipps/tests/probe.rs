//! `Client::probe`: one token request, no retries, that tells whether Vipps answers.

use vipps::{Client, Config, Error, Secret, SystemInfo};
use vipps_sim::{Sim, SimConfig};

fn client(base_url: String, secret: &str) -> Client {
    let defaults = SimConfig::default();
    let config = Config::new(
        base_url,
        defaults.client_id,
        Secret::new(secret.to_owned()),
        Secret::new(defaults.subscription_key),
        defaults.merchant_serial_number,
        SystemInfo::new("loyaltyd", "0.1.0", "vipps-tests", "0.1.0").expect("system"),
    );
    Client::new(config).expect("client")
}

#[tokio::test]
async fn a_probe_answers_ok_from_vipps_and_unreachable_from_a_closed_port() {
    let sim = Sim::start(
        "127.0.0.1:0".parse().expect("address"),
        SimConfig::default(),
    )
    .await
    .expect("simulator starts");
    let good = client(sim.base_url(), &SimConfig::default().client_secret);
    good.probe().await.expect("Vipps answers");
    let tokens = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/accesstoken/get")
        .count();
    assert_eq!(tokens, 1, "exactly one request");

    // A refused token request is still an answer: Vipps is there.
    let wrong = client(sim.base_url(), "not-the-secret");
    assert!(matches!(wrong.probe().await, Err(Error::Api(_))));

    let base = sim.base_url();
    sim.shutdown().await;
    let gone = client(base, &SimConfig::default().client_secret);
    let probed = gone.probe().await;
    assert!(matches!(probed, Err(Error::Unreachable(_))), "{probed:?}");
}
