//! One proxied connection: the relay between a client socket and its upstream socket, one pump
//! per direction in a single task. With no toxic on a direction the pump is a plain
//! read → write_all loop (the cost of `copy_bidirectional`); with toxics a reader queues
//! timestamped chunks and a writer gives each a plan (when each piece may leave, and whether
//! the connection then closes or resets). Toxics are
//! watched live, so a toxic added or removed acts on connections already open (pooled
//! PostgreSQL, Redis and keep-alive HTTP connections), without losing a byte at the switch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::toxic::{Stream, Toxic, ToxicKind};

/// A toxic as published to live connections; `id` changes on every update, so a connection
/// rolls its toxicity again for an updated toxic, as Toxiproxy does.
#[derive(Debug, Clone)]
pub(crate) struct ActiveToxic {
    pub id: u64,
    pub toxic: Toxic,
}

/// The toxics of one proxy, in the order they were added.
pub(crate) type ToxicSet = Arc<Vec<ActiveToxic>>;

/// Bytes read per step and direction (two per connection: 32 KiB a connection, so hundreds
/// of pooled connections stay cheap; copy_bidirectional uses 8 KiB).
const BUFFER_SIZE: usize = 16 * 1024;

/// How a direction (or the whole connection) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The source closed; the destination got a FIN, the other direction goes on.
    Eof,
    /// Close the whole connection (limit reached, timeout expired, I/O error, proxy stopped).
    Close,
    /// Abort the whole connection with an RST on both sockets.
    Reset,
}

/// What a pump loop stopped for.
enum Step {
    Changed,
    End(End),
}

/// Serves one accepted client: dials the upstream, relays until both directions end, a toxic
/// closes or resets the connection, or the proxy stops (`cancel`).
pub(crate) async fn serve_connection(
    mut client: TcpStream,
    upstream_addr: String,
    toxics: watch::Receiver<ToxicSet>,
    cancel: CancellationToken,
) {
    let connect = tokio::select! {
        _ = cancel.cancelled() => return,
        connect = TcpStream::connect(&upstream_addr) => connect,
    };
    let mut upstream = match connect {
        Ok(stream) => stream,
        Err(error) => {
            tracing::debug!(%upstream_addr, %error, "upstream unreachable, closing the client");
            return;
        }
    };
    // Nagle would add up to 40 ms to every small write; the proxy must stay invisible.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if relay(&mut client, &mut upstream, &toxics, &cancel).await == End::Reset {
        // SO_LINGER 0: dropping the sockets sends RST instead of FIN, as Toxiproxy's reset_peer.
        let _ = client.set_zero_linger();
        let _ = upstream.set_zero_linger();
    }
}

async fn relay(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    toxics: &watch::Receiver<ToxicSet>,
    cancel: &CancellationToken,
) -> End {
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let up = pump(
        &mut client_read,
        &mut upstream_write,
        Stream::Upstream,
        toxics.clone(),
    );
    let down = pump(
        &mut upstream_read,
        &mut client_write,
        Stream::Downstream,
        toxics.clone(),
    );
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    loop {
        let end = tokio::select! {
            biased;
            _ = cancel.cancelled() => return End::Close,
            end = &mut up, if !up_done => { up_done = true; end }
            end = &mut down, if !down_done => { down_done = true; end }
        };
        if end != End::Eof || (up_done && down_done) {
            return end;
        }
    }
}

/// Moves bytes one way until the source ends or a toxic ends the connection.
async fn pump(
    src: &mut ReadHalf<'_>,
    dst: &mut WriteHalf<'_>,
    stream: Stream,
    mut toxics: watch::Receiver<ToxicSet>,
) -> End {
    let mut state = PumpState::default();
    let mut buf = vec![0u8; BUFFER_SIZE];
    loop {
        let chain = state.effective_chain(&toxics.borrow_and_update(), stream);
        let step = if chain.is_empty() {
            fast_copy(src, dst, &mut buf, &mut toxics).await
        } else {
            toxic_copy(src, dst, &mut buf, &mut toxics, &chain, &mut state).await
        };
        match step {
            Step::Changed => continue,
            Step::End(End::Eof) => {
                let _ = dst.shutdown().await;
                return End::Eof;
            }
            Step::End(end) => return end,
        }
    }
}

/// The no-toxic path: read, write, repeat; stops when the toxics change.
async fn fast_copy(
    src: &mut ReadHalf<'_>,
    dst: &mut WriteHalf<'_>,
    buf: &mut [u8],
    toxics: &mut watch::Receiver<ToxicSet>,
) -> Step {
    let changed = toxics.changed();
    tokio::pin!(changed);
    loop {
        let read = tokio::select! {
            biased;
            sender = &mut changed => return changed_step(sender.is_ok()),
            read = src.read(buf) => read,
        };
        let count = match read {
            Ok(0) => return Step::End(End::Eof),
            Ok(count) => count,
            Err(_) => return Step::End(End::Close),
        };
        if dst.write_all(&buf[..count]).await.is_err() {
            return Step::End(End::Close);
        }
    }
}

/// The toxic path, pipelined as Toxiproxy's: a reader timestamps each chunk as it arrives and
/// queues it; a writer runs it through the chain's plan and writes it piece by piece at its
/// release time, so a latency toxic delays a bulk transfer once, not once per chunk. A change
/// of toxics cuts the waiting short: queued bytes are still written (never lost), then the
/// pump picks its new path.
async fn toxic_copy(
    src: &mut ReadHalf<'_>,
    dst: &mut WriteHalf<'_>,
    buf: &mut [u8],
    toxics: &mut watch::Receiver<ToxicSet>,
    chain: &[Toxic],
    state: &mut PumpState,
) -> Step {
    let idle_timeout = chain.iter().find_map(|toxic| match toxic.kind {
        ToxicKind::Timeout { timeout } if timeout > 0 => Some(millis(timeout)),
        _ => None,
    });
    let (queue, mut queued) = mpsc::channel(PIPELINE_DEPTH);
    let mut reader_toxics = toxics.clone();
    let mut eof_toxics = toxics.clone();
    let reader = read_chunks(src, buf, queue, &mut reader_toxics, idle_timeout);
    let writer = write_chunks(dst, &mut queued, toxics, chain, state);
    tokio::pin!(reader, writer);
    let mut read_end = None;
    loop {
        tokio::select! {
            biased;
            end = &mut reader, if read_end.is_none() => match end {
                ReadEnd::Close => return Step::End(End::Close),
                other => read_end = Some(other),
            },
            end = &mut writer => {
                return match (end, read_end) {
                    (WriteEnd::Stop(end), _) => Step::End(end),
                    (WriteEnd::Drained, Some(ReadEnd::Eof)) => {
                        Step::End(finish_on_eof(chain, &mut eof_toxics).await)
                    }
                    (WriteEnd::Drained, Some(ReadEnd::Changed { sender_alive })) => {
                        changed_step(sender_alive)
                    }
                    (WriteEnd::Drained, _) => Step::Changed,
                };
            }
        }
    }
}

/// Chunks queued between the reader and the writer of one direction (backpressure past it).
const PIPELINE_DEPTH: usize = 64;

enum ReadEnd {
    Eof,
    Changed {
        sender_alive: bool,
    },
    /// Read error, or the timeout toxic's idle time ran out: close the connection.
    Close,
}

enum WriteEnd {
    /// The reader stopped and every queued chunk was handled.
    Drained,
    Stop(End),
}

async fn read_chunks(
    src: &mut ReadHalf<'_>,
    buf: &mut [u8],
    queue: mpsc::Sender<(Bytes, Instant)>,
    toxics: &mut watch::Receiver<ToxicSet>,
    idle_timeout: Option<Duration>,
) -> ReadEnd {
    let changed = toxics.changed();
    tokio::pin!(changed);
    let mut idle_deadline = idle_timeout.map(|timeout| Instant::now() + timeout);
    loop {
        let read = tokio::select! {
            biased;
            sender = &mut changed => return ReadEnd::Changed { sender_alive: sender.is_ok() },
            _ = sleep_until(idle_deadline.unwrap_or_else(Instant::now)), if idle_deadline.is_some() => {
                return ReadEnd::Close;
            }
            read = src.read(buf) => read,
        };
        let count = match read {
            Ok(0) => return ReadEnd::Eof,
            Ok(count) => count,
            Err(_) => return ReadEnd::Close,
        };
        let now = Instant::now();
        // Toxiproxy restarts the timeout toxic's timer on every chunk it swallows.
        idle_deadline = idle_timeout.map(|timeout| now + timeout);
        if queue
            .send((Bytes::copy_from_slice(&buf[..count]), now))
            .await
            .is_err()
        {
            return ReadEnd::Close;
        }
    }
}

async fn write_chunks(
    dst: &mut WriteHalf<'_>,
    queued: &mut mpsc::Receiver<(Bytes, Instant)>,
    toxics: &mut watch::Receiver<ToxicSet>,
    chain: &[Toxic],
    state: &mut PumpState,
) -> WriteEnd {
    let changed = toxics.changed();
    tokio::pin!(changed);
    // Set once the toxics changed: from then on nothing waits, queued bytes just flow out.
    let mut interrupted = false;
    while let Some((data, read_at)) = queued.recv().await {
        let plan = state.plan(chain, data.len(), read_at);
        for piece in &plan.pieces {
            // tokio's timer rounds up to the next millisecond: never sleep for a past instant.
            if !interrupted && piece.release > Instant::now() {
                tokio::select! {
                    _ = sleep_until(piece.release) => {}
                    _ = &mut changed => interrupted = true,
                }
            }
            if dst.write_all(&data[piece.start..piece.end]).await.is_err() {
                return WriteEnd::Stop(End::Close);
            }
        }
        if let Some((when, end)) = plan.then {
            if !interrupted {
                tokio::select! {
                    _ = sleep_until(when) => return WriteEnd::Stop(end),
                    _ = &mut changed => interrupted = true,
                }
            }
            if end == End::Close {
                return WriteEnd::Stop(End::Close);
            }
        }
    }
    WriteEnd::Drained
}

/// The source closed: slow_close holds the close for its delay, and reset_peer answers the
/// close with a reset after its timeout, as Toxiproxy does (unless the toxics change).
async fn finish_on_eof(chain: &[Toxic], toxics: &mut watch::Receiver<ToxicSet>) -> End {
    let reset_after = chain.iter().find_map(|toxic| match toxic.kind {
        ToxicKind::ResetPeer { timeout } => Some(millis(timeout)),
        _ => None,
    });
    if let Some(timeout) = reset_after {
        return tokio::select! {
            _ = tokio::time::sleep(timeout) => End::Reset,
            _ = toxics.changed() => End::Eof,
        };
    }
    let delay: i64 = chain
        .iter()
        .map(|toxic| match toxic.kind {
            ToxicKind::SlowClose { delay } => delay,
            _ => 0,
        })
        .sum();
    if delay > 0 {
        tokio::select! {
            _ = tokio::time::sleep(millis(delay)) => {}
            _ = toxics.changed() => {}
        }
    }
    End::Eof
}

/// A change notification ends the loop; a dropped sender means the proxy is gone.
fn changed_step(sender_alive: bool) -> Step {
    if sender_alive {
        Step::Changed
    } else {
        Step::End(End::Close)
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A slice of the chunk just read and the instant it may be written.
#[derive(Debug, Clone, Copy)]
struct Piece {
    release: Instant,
    start: usize,
    end: usize,
}

/// What to do with one chunk: the pieces to write, then maybe end the connection at an instant.
#[derive(Debug, Default)]
struct Plan {
    pieces: Vec<Piece>,
    then: Option<(Instant, End)>,
}

/// Per-direction memory across chunks and toxic changes.
#[derive(Default)]
struct PumpState {
    /// Toxicity rolled once per connection and toxic version.
    affected: HashMap<u64, bool>,
    /// Bandwidth: when the link is next free, per toxic name.
    link_free_at: HashMap<String, Instant>,
    /// limit_data: bytes already let through, per toxic name (kept across updates).
    bytes_passed: HashMap<String, i64>,
}

impl PumpState {
    /// The toxics of this direction that affect this connection, rolling toxicity once each.
    fn effective_chain(&mut self, set: &ToxicSet, stream: Stream) -> Vec<Toxic> {
        set.iter()
            .filter(|active| active.toxic.stream == stream)
            .filter(|active| {
                let toxicity = active.toxic.toxicity;
                *self
                    .affected
                    .entry(active.id)
                    .or_insert_with(|| rand::random::<f32>() < toxicity)
            })
            .map(|active| active.toxic.clone())
            .collect()
    }

    /// Runs a chunk of `len` bytes read at `at` through the chain, in order.
    fn plan(&mut self, chain: &[Toxic], len: usize, at: Instant) -> Plan {
        let mut plan = Plan {
            pieces: vec![Piece {
                release: at,
                start: 0,
                end: len,
            }],
            then: None,
        };
        for toxic in chain {
            match toxic.kind {
                ToxicKind::Latency { latency, jitter } => delay_pieces(&mut plan, latency, jitter),
                ToxicKind::Bandwidth { rate } if rate > 0 => {
                    self.pace(&mut plan, &toxic.name, rate)
                }
                ToxicKind::Bandwidth { .. } | ToxicKind::SlowClose { .. } => {}
                ToxicKind::Timeout { .. } => plan.pieces.clear(),
                ToxicKind::ResetPeer { timeout } => {
                    plan.pieces.clear();
                    plan.then.get_or_insert((at + millis(timeout), End::Reset));
                }
                ToxicKind::LimitData { bytes } => self.limit(&mut plan, &toxic.name, bytes, at),
            }
        }
        plan
    }

    /// Bandwidth: pieces of at most 100 ms worth of bytes, each leaving when the link has
    /// carried the previous ones at `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy).
    fn pace(&mut self, plan: &mut Plan, name: &str, rate: i64) {
        let slice = usize::try_from(rate * 100).unwrap_or(usize::MAX).max(1);
        let bytes_per_ms = rate as f64;
        let free_at = self
            .link_free_at
            .entry(name.to_string())
            .or_insert_with(Instant::now);
        let mut paced = Vec::with_capacity(plan.pieces.len());
        for piece in &plan.pieces {
            let mut start = piece.start;
            while start < piece.end {
                let end = piece.end.min(start + slice);
                let cost = Duration::from_secs_f64((end - start) as f64 / bytes_per_ms / 1000.0);
                *free_at = (*free_at).max(piece.release) + cost;
                paced.push(Piece {
                    release: *free_at,
                    start,
                    end,
                });
                start = end;
            }
        }
        plan.pieces = paced;
    }

    /// limit_data: let through what is left of the budget, then close the connection.
    fn limit(&mut self, plan: &mut Plan, name: &str, budget: i64, at: Instant) {
        let passed = self.bytes_passed.entry(name.to_string()).or_insert(0);
        let mut left = usize::try_from(budget - *passed).unwrap_or(0);
        let mut kept = Vec::with_capacity(plan.pieces.len());
        for piece in &plan.pieces {
            let take = (piece.end - piece.start).min(left);
            if take > 0 {
                kept.push(Piece {
                    end: piece.start + take,
                    ..*piece
                });
            }
            left -= take;
            *passed += take as i64;
        }
        plan.pieces = kept;
        if *passed >= budget {
            let last = plan.pieces.last().map_or(at, |piece| piece.release);
            plan.then.get_or_insert((last, End::Close));
        }
    }
}

/// Latency: every piece leaves `latency ± jitter` ms later (never earlier than planned).
fn delay_pieces(plan: &mut Plan, latency: i64, jitter: i64) {
    let mut delay = latency;
    if jitter > 0 {
        delay += rand::random_range(-jitter..jitter);
    }
    let delay = millis(delay.max(0));
    for piece in &mut plan.pieces {
        piece.release += delay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toxic(kind: ToxicKind) -> Toxic {
        Toxic::new(kind, Stream::Downstream)
    }

    #[test]
    fn bandwidth_plan_spreads_bytes_at_the_rate() {
        let mut state = PumpState::default();
        let at = Instant::now();
        let plan = state.plan(&[toxic(ToxicKind::Bandwidth { rate: 10 })], 3000, at);
        // 10 KB/s: 1000-byte slices, 100 ms apart, the last one 300 ms after the read.
        assert_eq!(plan.pieces.len(), 3);
        let last = plan.pieces[2].release - at;
        assert!(
            last >= Duration::from_millis(299) && last <= Duration::from_millis(301),
            "{last:?}"
        );
    }

    #[test]
    fn limit_data_truncates_then_closes() {
        let mut state = PumpState::default();
        let chain = [toxic(ToxicKind::LimitData { bytes: 10 })];
        let first = state.plan(&chain, 6, Instant::now());
        assert_eq!(first.pieces[0].end, 6);
        assert!(first.then.is_none());
        let second = state.plan(&chain, 6, Instant::now());
        assert_eq!(second.pieces[0].end - second.pieces[0].start, 4);
        assert_eq!(second.then.map(|(_, end)| end), Some(End::Close));
    }

    #[test]
    fn timeout_swallows_and_reset_peer_resets() {
        let mut state = PumpState::default();
        let plan = state.plan(
            &[toxic(ToxicKind::Timeout { timeout: 0 })],
            100,
            Instant::now(),
        );
        assert!(plan.pieces.is_empty() && plan.then.is_none());
        let plan = state.plan(
            &[toxic(ToxicKind::ResetPeer { timeout: 0 })],
            100,
            Instant::now(),
        );
        assert_eq!(plan.then.map(|(_, end)| end), Some(End::Reset));
    }
}
