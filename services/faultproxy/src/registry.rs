//! The proxies: their configuration, their toxics, and their listeners. Creating, updating,
//! populating, resetting and removing follow Toxiproxy's ProxyCollection and Proxy rules
//! (an update that changes listen or upstream restarts the listener; `enabled: false` closes
//! the listener and every open connection, so new clients get "connection refused").

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::link::{ActiveToxic, ToxicSet, serve_connection};
use crate::toxic::{Stream, Toxic};

/// Where a proxy listens when the request names no address: loopback, any free port.
const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// What a proxy should be: the body of `POST /proxies` and of each `/populate` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySpec {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
}

/// The changes of `POST /proxies/{name}`; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyChange {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
}

/// A proxy as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyInfo {
    pub name: String,
    /// The bound address once the proxy listened (a `:0` port resolved), else as configured.
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    /// Upstream toxics first, then downstream, each in the order added (Toxiproxy's order).
    pub toxics: Vec<Toxic>,
}

impl ProxyInfo {
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": self.toxics.iter().map(Toxic::to_json).collect::<Vec<_>>(),
        })
    }
}

/// A running listener: cancelling the token stops accepting and closes every connection.
struct Listening {
    cancel: CancellationToken,
    accept_task: JoinHandle<()>,
}

struct ProxyEntry {
    name: String,
    listen: String,
    upstream: String,
    toxics: Vec<ActiveToxic>,
    publish: watch::Sender<ToxicSet>,
    listening: Option<Listening>,
}

impl ProxyEntry {
    fn new(spec: &ProxySpec) -> Self {
        let (publish, _) = watch::channel(Arc::new(Vec::new()));
        Self {
            name: spec.name.clone(),
            listen: spec.listen.clone(),
            upstream: spec.upstream.clone(),
            toxics: Vec::new(),
            publish,
            listening: None,
        }
    }

    fn info(&self) -> ProxyInfo {
        let ordered = [Stream::Upstream, Stream::Downstream]
            .into_iter()
            .flat_map(|stream| {
                self.toxics
                    .iter()
                    .filter(move |active| active.toxic.stream == stream)
                    .map(|active| active.toxic.clone())
            });
        ProxyInfo {
            name: self.name.clone(),
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            enabled: self.listening.is_some(),
            toxics: ordered.collect(),
        }
    }

    /// Binds and starts accepting; no-op when already listening.
    fn start(&mut self) -> Result<(), ApiError> {
        if self.listening.is_some() {
            return Ok(());
        }
        let listen = resolve_listen(&self.listen)?;
        let std_listener = std::net::TcpListener::bind(listen)
            .map_err(|error| ApiError::internal(format!("listen tcp {listen}: {error}")))?;
        std_listener
            .set_nonblocking(true)
            .map_err(ApiError::internal)?;
        let listener = TcpListener::from_std(std_listener).map_err(ApiError::internal)?;
        let bound = listener.local_addr().map_err(ApiError::internal)?;
        self.listen = bound.to_string();
        let cancel = CancellationToken::new();
        let accept_task = tokio::spawn(accept_loop(
            listener,
            self.upstream.clone(),
            self.publish.subscribe(),
            cancel.clone(),
        ));
        tracing::info!(proxy = %self.name, listen = %bound, upstream = %self.upstream, "proxy started");
        self.listening = Some(Listening {
            cancel,
            accept_task,
        });
        Ok(())
    }

    /// Closes the listener (awaited, so the port refuses connections when this returns) and
    /// every connection of this proxy.
    async fn stop(&mut self) {
        if let Some(listening) = self.listening.take() {
            listening.cancel.cancel();
            let _ = listening.accept_task.await;
            tracing::info!(proxy = %self.name, "proxy stopped");
        }
    }

    /// Toxiproxy's `Differs`: another listen (resolved) or another upstream.
    fn differs(&self, listen: &str, upstream: &str) -> Result<bool, ApiError> {
        let listen = resolve_listen(listen)?.to_string();
        Ok(listen != self.listen || upstream != self.upstream)
    }

    fn publish_toxics(&self) {
        self.publish.send_replace(Arc::new(self.toxics.clone()));
    }

    /// Where the toxic `name` is in the chain (404 when there is none).
    fn toxic_index(&self, name: &str) -> Result<usize, ApiError> {
        self.toxics
            .iter()
            .position(|active| active.toxic.name == name)
            .ok_or_else(ApiError::toxic_not_found)
    }
}

fn resolve_listen(listen: &str) -> Result<SocketAddr, ApiError> {
    let listen = if listen.is_empty() {
        DEFAULT_LISTEN
    } else {
        listen
    };
    listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ApiError::bad_body(format!("listen: not a host:port address: {listen:?}")))
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    toxics: watch::Receiver<ToxicSet>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, _)) => {
                let connection = serve_connection(
                    client,
                    upstream.clone(),
                    toxics.clone(),
                    cancel.child_token(),
                );
                tokio::spawn(connection);
            }
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

/// All proxies, by name. Operations are serialised, as Toxiproxy's collection lock does.
#[derive(Default)]
pub struct Registry {
    proxies: Mutex<BTreeMap<String, ProxyEntry>>,
    next_toxic_id: AtomicU64,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn list(&self) -> Vec<ProxyInfo> {
        self.proxies
            .lock()
            .await
            .values()
            .map(ProxyEntry::info)
            .collect()
    }

    pub async fn get(&self, name: &str) -> Result<ProxyInfo, ApiError> {
        let proxies = self.proxies.lock().await;
        proxies
            .get(name)
            .map(ProxyEntry::info)
            .ok_or_else(ApiError::proxy_not_found)
    }

    /// Creates a proxy (409 if the name is taken), listening at once when enabled.
    pub async fn create(&self, spec: ProxySpec) -> Result<ProxyInfo, ApiError> {
        validate_spec(&spec)?;
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&spec.name) {
            return Err(ApiError::proxy_exists());
        }
        insert_started(&mut proxies, spec)
    }

    /// Toxiproxy's `Proxy.Update`: a new listen or upstream restarts the proxy; `enabled`
    /// starts or stops it. Toxics stay.
    pub async fn update(&self, name: &str, change: ProxyChange) -> Result<ProxyInfo, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxy_mut(&mut proxies, name)?;
        let listen = change.listen.unwrap_or_else(|| entry.listen.clone());
        let upstream = change.upstream.unwrap_or_else(|| entry.upstream.clone());
        let enabled = change.enabled.unwrap_or(entry.listening.is_some());
        if upstream.is_empty() {
            return Err(ApiError::missing_field("upstream"));
        }
        if entry.differs(&listen, &upstream)? {
            entry.stop().await;
            entry.listen = listen;
            entry.upstream = upstream;
        }
        if enabled {
            entry.start()?;
        } else {
            entry.stop().await;
        }
        Ok(entry.info())
    }

    pub async fn remove(&self, name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let mut entry = proxies.remove(name).ok_or_else(ApiError::proxy_not_found)?;
        entry.stop().await;
        Ok(())
    }

    /// Toxiproxy's `/populate`: every spec is checked first; then each proxy is created, or
    /// replaced (toxics dropped) when its listen or upstream differs, or left as it is.
    /// Returns the proxies handled so far and the error that stopped it, if any.
    pub async fn populate(&self, specs: Vec<ProxySpec>) -> (Vec<ProxyInfo>, Option<ApiError>) {
        for (index, spec) in specs.iter().enumerate() {
            for (field, value) in [("name", &spec.name), ("upstream", &spec.upstream)] {
                if value.is_empty() {
                    let field = format!("{field} at proxy {}", index + 1);
                    return (Vec::new(), Some(ApiError::missing_field(&field)));
                }
            }
        }
        let mut proxies = self.proxies.lock().await;
        let mut handled = Vec::with_capacity(specs.len());
        for spec in specs {
            match populate_one(&mut proxies, spec).await {
                Ok(info) => handled.push(info),
                Err(error) => return (handled, Some(error)),
            }
        }
        (handled, None)
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        for entry in proxies.values_mut() {
            entry.start()?;
            entry.toxics.clear();
            entry.publish_toxics();
        }
        Ok(())
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ApiError> {
        Ok(self.get(proxy).await?.toxics)
    }

    pub async fn toxic(&self, proxy: &str, toxic: &str) -> Result<Toxic, ApiError> {
        let proxies = self.proxies.lock().await;
        let entry = proxies.get(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let index = entry.toxic_index(toxic)?;
        Ok(entry.toxics[index].toxic.clone())
    }

    /// Adds a toxic (409 if the proxy already has one of that name); open connections get it.
    pub async fn add_toxic(&self, proxy: &str, toxic: Toxic) -> Result<Toxic, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxy_mut(&mut proxies, proxy)?;
        if entry
            .toxics
            .iter()
            .any(|active| active.toxic.name == toxic.name)
        {
            return Err(ApiError::toxic_exists());
        }
        let id = self.next_toxic_id.fetch_add(1, Ordering::Relaxed);
        entry.toxics.push(ActiveToxic {
            id,
            toxic: toxic.clone(),
        });
        entry.publish_toxics();
        Ok(toxic)
    }

    /// Replaces a toxic by what `change` makes of it; it keeps its place in the chain.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        change: impl FnOnce(&Toxic) -> Result<Toxic, ApiError>,
    ) -> Result<Toxic, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxy_mut(&mut proxies, proxy)?;
        let index = entry.toxic_index(name)?;
        let updated = change(&entry.toxics[index].toxic)?;
        let id = self.next_toxic_id.fetch_add(1, Ordering::Relaxed);
        entry.toxics[index] = ActiveToxic {
            id,
            toxic: updated.clone(),
        };
        entry.publish_toxics();
        Ok(updated)
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let entry = proxy_mut(&mut proxies, proxy)?;
        let index = entry.toxic_index(name)?;
        entry.toxics.remove(index);
        entry.publish_toxics();
        Ok(())
    }

    /// Stops every proxy (used on shutdown).
    pub async fn stop_all(&self) {
        let mut proxies = self.proxies.lock().await;
        for entry in proxies.values_mut() {
            entry.stop().await;
        }
    }
}

/// The proxy named `proxy` (404 when there is none).
fn proxy_mut<'a>(
    proxies: &'a mut BTreeMap<String, ProxyEntry>,
    proxy: &str,
) -> Result<&'a mut ProxyEntry, ApiError> {
    proxies.get_mut(proxy).ok_or_else(ApiError::proxy_not_found)
}

fn validate_spec(spec: &ProxySpec) -> Result<(), ApiError> {
    if spec.name.is_empty() {
        return Err(ApiError::missing_field("name"));
    }
    if spec.upstream.is_empty() {
        return Err(ApiError::missing_field("upstream"));
    }
    resolve_listen(&spec.listen).map(|_| ())
}

async fn populate_one(
    proxies: &mut BTreeMap<String, ProxyEntry>,
    spec: ProxySpec,
) -> Result<ProxyInfo, ApiError> {
    if let Some(existing) = proxies.get_mut(&spec.name) {
        if !existing.differs(&spec.listen, &spec.upstream)? {
            return Ok(existing.info());
        }
        existing.stop().await;
    }
    resolve_listen(&spec.listen)?;
    insert_started(proxies, spec)
}

/// Adds the proxy `spec` describes, listening at once when enabled.
fn insert_started(
    proxies: &mut BTreeMap<String, ProxyEntry>,
    spec: ProxySpec,
) -> Result<ProxyInfo, ApiError> {
    let mut entry = ProxyEntry::new(&spec);
    if spec.enabled {
        entry.start()?;
    }
    let info = entry.info();
    proxies.insert(spec.name, entry);
    Ok(info)
}
