//! The accept loop's limits, on a real socket: connections whose headers never finish are
//! closed after the header-read timeout, idle keep-alive connections too, and connections
//! beyond the cap get a JSON 503 at once instead of a descriptor.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use testbed_common::server::{ConnectionLimits, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: ConnectionLimits) -> SocketAddr {
    let app = Router::new().route("/", get(|| async { "ok" }));
    let server = Server::bind("limits-test", "127.0.0.1:0".parse().expect("addr"), app)
        .await
        .expect("bind")
        .with_limits(limits);
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));
    addr
}

/// Reads until the peer closes (Ok(bytes)) or `within` passes (Err).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Result<Vec<u8>, ()> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return Err(()),
        }
    }
}

#[tokio::test]
async fn unfinished_headers_are_closed_and_connections_are_capped() {
    let addr = start(ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 20,
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("partial headers");
        slow.push(stream);
    }
    // Let the server accept all twenty before the next one arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut over = TcpStream::connect(addr)
        .await
        .expect("connect over the cap");
    let answer = read_until_closed(&mut over, Duration::from_secs(2))
        .await
        .expect("the connection over the cap is answered and closed at once");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );

    for stream in &mut slow {
        read_until_closed(stream, Duration::from_secs(5))
            .await
            .expect("a connection that never finishes its headers is closed");
    }
    let response = reqwest::get(format!("http://{addr}/"))
        .await
        .expect("served");
    assert_eq!(response.status(), 200, "the slots are free again");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let addr = start(ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: 10,
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "closed for idling, not at once: {:?}",
        started.elapsed()
    );
}
