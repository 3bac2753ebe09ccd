//! Benchmark: what one fault-proxy hop adds to a request/response round trip on loopback, with
//! no toxic. A 64-byte request and a 64-byte answer over one kept-open connection, measured
//! from a plain blocking client straight to an echo server, then through the proxy; prints
//! p50/p99 of both and the difference, then the toxic path's cost (0 ms latency toxics). Run: `cargo bench -p faultproxy --bench hop`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use faultproxy::{FaultProxy, Stream, Toxic, ToxicKind};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MESSAGE: usize = 64;
const WARM_UP: usize = 2_000;
const ROUND_TRIPS: usize = 20_000;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let echo = runtime.block_on(start_echo())?;
    let proxy = runtime.block_on(FaultProxy::start("127.0.0.1:0"))?;
    let hop = runtime.block_on(proxy.add_proxy("bench", "127.0.0.1:0", &echo.to_string()))?;
    let through = hop
        .listen_addr()
        .ok_or_else(|| anyhow::anyhow!("proxy address"))?;

    let direct = measure(echo)?;
    let proxied = measure(through)?;
    // The toxic path's own cost: a 0 ms latency toxic on both streams.
    for stream in [Stream::Upstream, Stream::Downstream] {
        let zero = Toxic::new(
            ToxicKind::Latency {
                latency: 0,
                jitter: 0,
            },
            stream,
        );
        runtime.block_on(proxy.add_toxic("bench", zero))?;
    }
    let toxic_path = measure(through)?;
    let micros =
        |histogram: &Histogram<u64>, q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!("round trips: {ROUND_TRIPS} x {MESSAGE} B request/answer, loopback, one connection");
    println!(
        "direct:        p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(&direct, 0.5),
        micros(&direct, 0.99)
    );
    println!(
        "through proxy: p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(&proxied, 0.5),
        micros(&proxied, 0.99)
    );
    println!(
        "toxic path (0 ms latency both ways): p50 {:>7.1} µs   p99 {:>7.1} µs",
        micros(&toxic_path, 0.5),
        micros(&toxic_path, 0.99)
    );
    println!(
        "added by the hop: p50 {:.1} µs, p99 {:.1} µs",
        micros(&proxied, 0.5) - micros(&direct, 0.5),
        micros(&proxied, 0.99) - micros(&direct, 0.99)
    );
    runtime.block_on(proxy.shutdown());
    Ok(())
}

/// An echo server answering each 64-byte message with the same bytes.
async fn start_echo() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = [0u8; MESSAGE];
                while socket.read_exact(&mut buf).await.is_ok() {
                    if socket.write_all(&buf).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Round-trip times in nanoseconds over one connection, after a warm-up.
fn measure(addr: SocketAddr) -> anyhow::Result<Histogram<u64>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = [7u8; MESSAGE];
    let mut answer = [0u8; MESSAGE];
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
    for round in 0..WARM_UP + ROUND_TRIPS {
        let started = Instant::now();
        stream.write_all(&request)?;
        stream.read_exact(&mut answer)?;
        let elapsed = started.elapsed().as_nanos() as u64;
        if round >= WARM_UP {
            histogram.record(elapsed.max(1))?;
        }
    }
    anyhow::ensure!(answer == request, "echo answered other bytes");
    Ok(histogram)
}
