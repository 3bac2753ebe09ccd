"""Drives faultproxy with toxiproxy-python (PyPI), a Toxiproxy client nobody here wrote.

Usage: toxiproxy_client.py API_HOST API_PORT. Creates a proxy to a local echo upstream, adds
a 200 ms latency toxic and measures it through the proxy, removes it, takes the proxy down,
resets, and checks the client's error mapping. Any failed step raises: exit status non-zero.
"""

import socket
import socketserver
import statistics
import sys
import threading
import time

from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound, ProxyExists


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(4096):
            self.request.sendall(data)


def median_rtt_ms(address, rounds=5):
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        for _ in range(rounds + 1):  # the first one also opens the upstream connection
            started = time.perf_counter()
            conn.sendall(b"x" * 32)
            got = b""
            while len(got) < 32:
                chunk = conn.recv(32 - len(got))
                assert chunk, "proxy closed the connection"
                got += chunk
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times[1:])


def main(api_host, api_port):
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    upstream = "127.0.0.1:%d" % echo.server_address[1]

    server = Toxiproxy()
    server.update_api_consumer(api_host, api_port)
    assert server.running(), "API not reachable"
    print("version:", server.version().decode().strip())

    proxy = server.create(upstream=upstream, name="py_echo", listen="127.0.0.1:0")
    assert proxy.enabled and proxy.listen != "127.0.0.1:0", vars(proxy)
    base = median_rtt_ms(proxy.listen)

    proxy.add_toxic(type="latency", attributes={"latency": 200})
    assert list(proxy.toxics()) == ["latency_downstream"], proxy.toxics()
    added = median_rtt_ms(proxy.listen, rounds=3) - base
    print("latency toxic 200 ms: added %.1f ms (base %.2f ms)" % (added, base))
    assert 180 <= added <= 300, added

    assert proxy.destroy_toxic("latency_downstream")
    after = median_rtt_ms(proxy.listen)
    print("toxic removed: %.2f ms" % after)
    assert after < 100, after

    with proxy.down():
        try:
            socket.create_connection(tuple(proxy.listen.rsplit(":", 1)), timeout=2).close()
            raise AssertionError("a disabled proxy accepted a connection")
        except ConnectionRefusedError:
            print("proxy down: connection refused")

    proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
    assert server.reset()
    assert proxy.toxics() == {} and server.get_proxy("py_echo").enabled
    print("reset: toxics removed, proxy enabled")

    for call, expected in [
        (lambda: APIConsumer.post("/proxies", json={"name": "py_echo", "upstream": upstream}), ProxyExists),
        (lambda: proxy.destroy_toxic("nope"), NotFound),
    ]:
        try:
            call()
            raise AssertionError("expected %s" % expected.__name__)
        except expected:
            pass
    assert proxy.destroy() and server.get_proxy("py_echo") is None
    print("toxiproxy-python drove faultproxy: all steps passed")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
