//! Network helpers the launcher needs before it starts anything: a free loopback port for a
//! process that must be told its port up front.

/// A port that was free a moment ago, for processes that must be told their port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}
