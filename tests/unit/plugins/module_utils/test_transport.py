"""Both transports against a real HTTP server on 127.0.0.1: kept-alive connections, a connection the server
closed while idle, streams split across chunks, errors answered whole, and a server that is not there."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest
import urllib3
from ansible_collections.kubeforge.cluster.plugins.module_utils.transport import (
    HttpTransport,
    PoolTransport,
    TransportError,
)

EVENTS = [{"type": "ADDED", "object": {"n": n}} for n in range(3)]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = 0.3  # a connection idle this long is closed, as servers close idle ones

    def log_message(self, *_args):
        pass

    def setup(self):
        super().setup()
        self.server.connections.append(self.client_address)

    def do_GET(self):
        self.server.paths.append(self.path)
        if self.path.startswith("/prefix/watch"):
            # Chunked, each event split across two chunks, the way a watch arrives.
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in EVENTS:
                line = json.dumps(event).encode() + b"\n"
                for part in (line[:5], line[5:]):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        status = 410 if self.path.startswith("/prefix/gone") else 200
        if self.path.startswith("/prefix/always-busy") or (
            self.path.startswith("/prefix/busy") and self.server.paths.count(self.path) == 1
        ):
            self.send_busy()
            return
        body = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_busy(self):
        """What the API server answers while a new CRD's storage initializes: 429 with Retry-After."""
        self.send_response(429)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.paths.append(self.path)
        if self.path.startswith("/prefix/busy"):
            self.send_busy()
            return
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.connections, httpd.paths = [], []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def transports(url):
    return {"http.client": HttpTransport(url), "urllib3": PoolTransport(url, urllib3.PoolManager())}


KINDS = ["http.client", "urllib3"]


def url_of(server):
    return f"http://127.0.0.1:{server.server_address[1]}/prefix"


@pytest.mark.parametrize("kind", KINDS)
def test_requests_one_after_another_share_one_connection_and_the_servers_path(server, kind):
    transport = transports(url_of(server))[kind]
    answers = [transport.request("GET", f"/api/{n}", headers={"Authorization": "Bearer t"}) for n in range(3)]
    assert [(a.status, json.loads(a.data)) for a in answers] == [
        (200, {"path": f"/prefix/api/{n}", "auth": "Bearer t"}) for n in range(3)
    ]
    posted = transport.request("POST", "/api", body=b'{"x": 1}')
    assert (posted.status, posted.data) == (201, b'{"x": 1}')
    assert len(server.connections) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_the_server_closed_while_idle_is_replaced(server, kind):
    transport = transports(url_of(server))[kind]
    assert transport.request("GET", "/api").status == 200
    time.sleep(0.6)  # past the handler's timeout: the server has closed the kept-alive connection
    assert transport.request("GET", "/api").status == 200
    assert len(server.connections) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_gives_whole_lines_across_chunks_and_a_request_after_it_is_answered(server, kind):
    transport = transports(url_of(server))[kind]
    stream = transport.request("GET", "/watch", stream=True)
    assert stream.status == 200
    assert [json.loads(line) for line in stream.lines()] == EVENTS
    stream.close()
    assert json.loads(transport.request("GET", "/api").data)["path"] == "/prefix/api"


@pytest.mark.parametrize("kind", KINDS)
def test_a_429_with_retry_after_is_asked_again_where_asking_twice_is_safe(server, kind):
    transport = transports(url_of(server))[kind]
    assert transport.request("GET", "/busy").status == 200
    assert transport.request("POST", "/busy", body=b"{}").status == 429
    assert server.paths == ["/prefix/busy", "/prefix/busy", "/prefix/busy"]


def test_a_server_busy_on_every_retry_is_asked_three_more_times_and_its_429_answered(server):
    assert HttpTransport(url_of(server)).request("GET", "/always-busy").status == 429
    assert server.paths == ["/prefix/always-busy"] * 4


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_on_a_stream_is_answered_whole(server, kind):
    transport = transports(url_of(server))[kind]
    answer = transport.request("GET", "/gone", stream=True)
    assert (answer.status, json.loads(answer.data)["path"]) == (410, "/prefix/gone")


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_that_is_not_there_is_a_transport_error(kind):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        transport = transports(f"http://127.0.0.1:{port}")[kind]
        if kind == "urllib3":
            transport.pool_manager = urllib3.PoolManager(retries=False)
        with pytest.raises(TransportError, match=r"[Rr]efused"):
            transport.request("GET", "/api")
