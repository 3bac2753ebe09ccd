//! Shared test fixtures: a fault proxy on a free port, small upstream servers on loopback
//! (echo, fixed answer then close, HTTP), and helpers to time round trips.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use faultproxy::FaultProxy;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every blocking step of a test is bounded by this.
pub const STEP_LIMIT: Duration = Duration::from_secs(10);

pub async fn start_proxy() -> FaultProxy {
    FaultProxy::start("127.0.0.1:0")
        .await
        .expect("fault proxy starts")
}

pub fn api(proxy: &FaultProxy, path: &str) -> String {
    format!("http://{}{path}", proxy.api_addr())
}

/// An upstream that echoes every byte back.
pub async fn echo_server() -> SocketAddr {
    serve(|mut socket| async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(count) => {
                    if socket.write_all(&buf[..count]).await.is_err() {
                        break;
                    }
                }
            }
        }
    })
    .await
}

/// An upstream that sends `size` bytes as soon as a client connects, then closes.
pub async fn sending_server(size: usize) -> SocketAddr {
    serve(move |mut socket| async move {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let _ = socket.write_all(&payload).await;
        let _ = socket.shutdown().await;
        // Keep the socket until the client is done, so the close is the proxy's doing.
        let mut sink = [0u8; 1024];
        while matches!(socket.read(&mut sink).await, Ok(count) if count > 0) {}
    })
    .await
}

/// An HTTP upstream answering `GET /` with `ok`.
pub async fn http_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = socket.set_nodelay(true);
            tokio::spawn(handler(socket));
        }
    });
    addr
}

/// Creates a proxy through the REST API and returns its listen address.
pub async fn create_proxy(proxy: &FaultProxy, name: &str, upstream: SocketAddr) -> SocketAddr {
    let response = reqwest::Client::new()
        .post(api(proxy, "/proxies"))
        .json(&json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string()}))
        .send()
        .await
        .expect("create proxy");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    body["listen"]
        .as_str()
        .expect("listen")
        .parse()
        .expect("socket address")
}

/// Adds a toxic through the REST API; asserts Toxiproxy's 200.
pub async fn add_toxic(proxy: &FaultProxy, name: &str, toxic: Value) {
    let response = reqwest::Client::new()
        .post(api(proxy, &format!("/proxies/{name}/toxics")))
        .json(&toxic)
        .send()
        .await
        .expect("add toxic");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{body}");
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    let stream = tokio::time::timeout(STEP_LIMIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// One 32-byte round trip through an echo path, timed.
pub async fn round_trip(stream: &mut TcpStream) -> Duration {
    let request = [42u8; 32];
    let mut answer = [0u8; 32];
    let started = Instant::now();
    stream.write_all(&request).await.expect("write");
    tokio::time::timeout(STEP_LIMIT, stream.read_exact(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    assert_eq!(answer, request);
    started.elapsed()
}

/// The median of `count` round trips.
pub async fn median_round_trip(stream: &mut TcpStream, count: usize) -> Duration {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        times.push(round_trip(stream).await);
    }
    times.sort();
    times[count / 2]
}

/// Reads until EOF or error; returns the bytes and how the stream ended.
pub async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::time::timeout(STEP_LIMIT, stream.read(&mut buf))
            .await
            .expect("stream ends in time");
        match read {
            Ok(0) => return (received, Ok(())),
            Ok(count) => received.extend_from_slice(&buf[..count]),
            Err(error) => return (received, Err(error)),
        }
    }
}

/// A fault proxy with one link, `name` to `upstream`, carrying `toxic`; returns the proxy
/// (keep it: dropping it stops the link) and the link's listen address.
pub async fn toxic_proxy(
    name: &str,
    upstream: SocketAddr,
    toxic: Value,
) -> (FaultProxy, SocketAddr) {
    let proxy = start_proxy().await;
    let listen = create_proxy(&proxy, name, upstream).await;
    add_toxic(&proxy, name, toxic).await;
    (proxy, listen)
}

/// Connects to `listen` and reads to a clean end; returns the bytes and how long it took
/// from the connect on.
pub async fn download(listen: SocketAddr) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut stream = connect(listen).await;
    let (received, ended) = read_to_end(&mut stream).await;
    let elapsed = started.elapsed();
    ended.expect("clean end");
    (received, elapsed)
}
