//! Each toxic's effect, measured through a real proxy on loopback: latency and bandwidth
//! within 10 % (with room for scheduling), timeout never answers, reset_peer is a reset to
//! reqwest, slow_close holds the close, limit_data cuts the stream, a disabled proxy refuses
//! connections, toxicity 0 affects nothing, and toxics act on connections already open.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use crate::fixtures::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn without_toxics_bytes_pass_unchanged_both_ways() {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, "echo", echo_server().await).await;
    let mut stream = connect(listen).await;
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let (mut reader, mut writer) = stream.split();
    let send = async {
        writer.write_all(&payload).await.expect("write");
        writer.shutdown().await.expect("shutdown");
    };
    let mut echoed = Vec::new();
    let receive = reader.read_to_end(&mut echoed);
    let (_, received) = tokio::time::timeout(STEP_LIMIT, async { tokio::join!(send, receive) })
        .await
        .expect("echo in time");
    received.expect("read");
    assert_eq!(echoed, payload);
}

#[tokio::test]
async fn latency_adds_its_delay_to_an_open_connection_and_goes_away_when_removed() {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, "echo", echo_server().await).await;
    let mut stream = connect(listen).await;
    let baseline = median_round_trip(&mut stream, 5).await;

    add_toxic(
        &proxy,
        "echo",
        json!({"type": "latency", "attributes": {"latency": 200}}),
    )
    .await;
    let delayed = median_round_trip(&mut stream, 3).await;
    let added = delayed.saturating_sub(baseline);
    assert!(
        added >= Duration::from_millis(180) && added <= Duration::from_millis(260),
        "200 ms latency toxic added {added:?} (baseline {baseline:?})"
    );

    proxy
        .remove_toxic("echo", "latency_downstream")
        .await
        .expect("remove");
    let after = median_round_trip(&mut stream, 3).await;
    assert!(
        after < Duration::from_millis(100),
        "latency gone, round trip {after:?}"
    );
}

#[tokio::test]
async fn upstream_latency_with_jitter_stays_within_its_band() {
    let jittery = json!({"type": "latency", "stream": "upstream", "attributes": {"latency": 150, "jitter": 50}});
    let (_proxy, listen) = toxic_proxy("echo", echo_server().await, jittery).await;
    let mut stream = connect(listen).await;
    for _ in 0..5 {
        let rtt = round_trip(&mut stream).await;
        assert!(
            rtt >= Duration::from_millis(95) && rtt <= Duration::from_millis(260),
            "150 ± 50 ms gave {rtt:?}"
        );
    }
}

#[tokio::test]
async fn bandwidth_limits_the_rate_within_ten_percent() {
    let (_proxy, listen) = toxic_proxy(
        "bulk",
        sending_server(300_000).await,
        json!({"type": "bandwidth", "attributes": {"rate": 100}}),
    )
    .await;
    let (received, elapsed) = download(listen).await;
    assert_eq!(received.len(), 300_000);
    // 300 000 bytes at 100 KB/s (1 KB = 1000 bytes) is 3.0 s.
    assert!(
        elapsed >= Duration::from_millis(2_700) && elapsed <= Duration::from_millis(3_300),
        "300 KB at 100 KB/s took {elapsed:?}"
    );
}

#[tokio::test]
async fn timeout_zero_swallows_bytes_and_never_answers() {
    let (_proxy, listen) = toxic_proxy(
        "echo",
        echo_server().await,
        json!({"type": "timeout", "attributes": {"timeout": 0}}),
    )
    .await;
    let mut stream = connect(listen).await;
    stream
        .write_all(b"anyone there?")
        .await
        .expect("bytes accepted");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_millis(1_500), stream.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "expected no answer and no close, got {read:?}"
    );
}

#[tokio::test]
async fn timeout_with_a_duration_closes_the_connection_after_it() {
    let (_proxy, listen) = toxic_proxy(
        "echo",
        echo_server().await,
        json!({"type": "timeout", "attributes": {"timeout": 300}}),
    )
    .await;
    let started = Instant::now();
    let mut stream = connect(listen).await;
    stream.write_all(b"hello").await.expect("write");
    let (received, _) = read_to_end(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(received.is_empty(), "nothing may come back");
    assert!(
        elapsed >= Duration::from_millis(270) && elapsed <= Duration::from_millis(1_000),
        "closed after {elapsed:?}"
    );
}

/// Whether an error, or any error behind it, is an I/O connection reset.
fn is_reset(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == ErrorKind::ConnectionReset
        {
            return true;
        }
        current = error.source();
    }
    false
}

#[tokio::test]
async fn reset_peer_is_a_connection_reset_to_reqwest() {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, "http", http_server().await).await;
    let client = reqwest::Client::builder()
        .timeout(STEP_LIMIT)
        .build()
        .expect("client");
    let url = format!("http://{listen}/");
    let ok = client.get(&url).send().await.expect("through the proxy");
    assert_eq!(ok.text().await.expect("body"), "ok");

    add_toxic(
        &proxy,
        "http",
        json!({"type": "reset_peer", "attributes": {"timeout": 0}}),
    )
    .await;
    let fresh = reqwest::Client::builder()
        .timeout(STEP_LIMIT)
        .build()
        .expect("client");
    let error = fresh.get(&url).send().await.expect_err("reset");
    assert!(
        is_reset(&error),
        "expected a connection reset, got {error:?}"
    );
}

#[tokio::test]
async fn reset_peer_after_its_timeout_resets_a_raw_socket() {
    let (_proxy, listen) = toxic_proxy(
        "echo",
        echo_server().await,
        json!({"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 200}}),
    )
    .await;
    let started = Instant::now();
    let mut stream = connect(listen).await;
    stream.write_all(b"ping").await.expect("write");
    let (received, ended) = read_to_end(&mut stream).await;
    let elapsed = started.elapsed();
    assert!(received.is_empty());
    let error = ended.expect_err("a reset, not a clean close");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert!(
        elapsed >= Duration::from_millis(180),
        "reset after {elapsed:?}"
    );
}

#[tokio::test]
async fn slow_close_holds_the_close_for_its_delay() {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, "bye", sending_server(3).await).await;
    let mut quick = connect(listen).await;
    let started = Instant::now();
    let (received, _) = read_to_end(&mut quick).await;
    assert_eq!(received.len(), 3);
    let without = started.elapsed();
    assert!(
        without < Duration::from_millis(150),
        "close without toxic took {without:?}"
    );

    add_toxic(
        &proxy,
        "bye",
        json!({"type": "slow_close", "attributes": {"delay": 400}}),
    )
    .await;
    let started = Instant::now();
    let mut slow = connect(listen).await;
    let (received, ended) = read_to_end(&mut slow).await;
    let elapsed = started.elapsed();
    ended.expect("a clean close");
    assert_eq!(received.len(), 3, "the data itself is not held");
    assert!(
        elapsed >= Duration::from_millis(360) && elapsed <= Duration::from_millis(1_000),
        "close held {elapsed:?}"
    );
}

#[tokio::test]
async fn limit_data_closes_after_its_bytes() {
    let (_proxy, listen) = toxic_proxy(
        "bulk",
        sending_server(5_000).await,
        json!({"type": "limit_data", "attributes": {"bytes": 1_000}}),
    )
    .await;
    let mut stream = connect(listen).await;
    let (received, _) = read_to_end(&mut stream).await;
    assert_eq!(received.len(), 1_000);
    let expected: Vec<u8> = (0..1_000).map(|i| (i % 251) as u8).collect();
    assert_eq!(received, expected, "the first bytes, unchanged");
}

#[tokio::test]
async fn a_disabled_proxy_refuses_connections_and_closes_open_ones() {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, "echo", echo_server().await).await;
    let mut open = connect(listen).await;
    round_trip(&mut open).await;

    let response = reqwest::Client::new()
        .post(api(&proxy, "/proxies/echo"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .expect("disable");
    assert_eq!(response.status(), 200);
    let refused = tokio::net::TcpStream::connect(listen)
        .await
        .expect_err("refused");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    let (received, _) = read_to_end(&mut open).await;
    assert!(received.is_empty(), "the open connection is closed");

    proxy.set_enabled("echo", true).await.expect("enable");
    let mut again = connect(listen).await;
    round_trip(&mut again).await;
}

#[tokio::test]
async fn toxicity_zero_affects_no_connection() {
    let (_proxy, listen) = toxic_proxy(
        "echo",
        echo_server().await,
        json!({"type": "latency", "toxicity": 0.0, "attributes": {"latency": 500}}),
    )
    .await;
    for _ in 0..5 {
        let mut stream = connect(listen).await;
        let rtt = round_trip(&mut stream).await;
        assert!(rtt < Duration::from_millis(200), "toxicity 0 yet {rtt:?}");
    }
}

#[tokio::test]
async fn a_new_upstream_takes_the_next_connections() {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, "moving", sending_server(10).await).await;
    let mut first = connect(listen).await;
    assert_eq!(read_to_end(&mut first).await.0.len(), 10);

    let response = reqwest::Client::new()
        .post(api(&proxy, "/proxies/moving"))
        .json(&json!({"upstream": sending_server(20).await.to_string()}))
        .send()
        .await
        .expect("update");
    assert_eq!(response.status(), 200);
    let mut second = connect(listen).await;
    assert_eq!(read_to_end(&mut second).await.0.len(), 20);
}

#[tokio::test]
async fn the_in_process_api_adds_toxics_and_reset_clears_them() {
    use faultproxy::{Stream, Toxic, ToxicKind};
    let proxy = start_proxy().await;
    let link = proxy
        .add_proxy("inproc", "127.0.0.1:0", &echo_server().await.to_string())
        .await
        .expect("proxy");
    let listen = link.listen_addr().expect("bound address");
    let latency = ToxicKind::Latency {
        latency: 150,
        jitter: 0,
    };
    let added = proxy
        .add_toxic("inproc", Toxic::new(latency, Stream::Upstream))
        .await
        .expect("toxic");
    assert_eq!(added.name, "latency_upstream");
    let duplicate = proxy
        .add_toxic("inproc", added.clone())
        .await
        .expect_err("duplicate");
    assert_eq!(duplicate.status, 409);

    let mut stream = connect(listen).await;
    let rtt = round_trip(&mut stream).await;
    assert!(
        rtt >= Duration::from_millis(135),
        "150 ms upstream latency gave {rtt:?}"
    );
    proxy.reset().await.expect("reset");
    let rtt = median_round_trip(&mut stream, 3).await;
    assert!(rtt < Duration::from_millis(100), "after reset {rtt:?}");
}

#[tokio::test]
async fn latency_delays_a_bulk_transfer_once_not_per_chunk() {
    let (_proxy, listen) = toxic_proxy(
        "bulk",
        sending_server(1_000_000).await,
        json!({"type": "latency", "attributes": {"latency": 200}}),
    )
    .await;
    let (received, elapsed) = download(listen).await;
    assert_eq!(received.len(), 1_000_000);
    // Many reads of up to 16 KiB: pipelined, the whole transfer is late by one latency.
    assert!(
        elapsed >= Duration::from_millis(180) && elapsed <= Duration::from_millis(700),
        "1 MB behind a 200 ms latency took {elapsed:?}"
    );
}

#[tokio::test]
async fn toxics_switching_on_and_off_mid_stream_lose_no_byte() {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, "echo", echo_server().await).await;
    let mut stream = connect(listen).await;
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
    let (mut reader, mut writer) = stream.split();
    let send = async {
        for piece in payload.chunks(20_000) {
            writer.write_all(piece).await.expect("write");
            tokio::task::yield_now().await;
        }
        writer.shutdown().await.expect("shutdown");
    };
    let mut echoed = Vec::new();
    let receive = reader.read_to_end(&mut echoed);
    let toggle = async {
        for round in 0..20 {
            let stream = if round % 2 == 0 {
                "upstream"
            } else {
                "downstream"
            };
            let toxic = json!({"name": "blip", "type": "latency", "stream": stream, "attributes": {"latency": 2}});
            add_toxic(&proxy, "echo", toxic).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            proxy.remove_toxic("echo", "blip").await.expect("remove");
        }
    };
    let (_, received, _) =
        tokio::time::timeout(STEP_LIMIT, async { tokio::join!(send, receive, toggle) })
            .await
            .expect("echo in time");
    received.expect("read");
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "bytes changed on the way");
}

#[tokio::test]
async fn reset_peer_answers_a_close_with_a_reset() {
    let (_proxy, listen) = toxic_proxy(
        "echo",
        echo_server().await,
        json!({"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 50}}),
    )
    .await;
    let mut stream = connect(listen).await;
    stream.shutdown().await.expect("half close");
    let (received, ended) = read_to_end(&mut stream).await;
    assert!(received.is_empty());
    assert_eq!(
        ended.expect_err("a reset").kind(),
        ErrorKind::ConnectionReset
    );
}
