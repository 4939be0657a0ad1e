# -*- coding: utf-8 -*-
# Copyright: kubeforge.cluster contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP under client.py: a kept-alive connection of the standard library for a kubeconfig read directly, the
kubernetes client's urllib3 pool for any other; both answer with the same Response.

The standard library's, because importing urllib3 cost each module run about 40 ms, a tenth of a no-op
converge's own time; the modules send their requests one after another, so one connection kept alive (and a
watch on a connection of its own) is all the pool they need.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import select
import socket
import time

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2
    urlsplit = None

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60  # a watch has none: the server ends it at its timeoutSeconds
IDEMPOTENT = frozenset(["GET", "HEAD", "PUT", "DELETE"])
# An answer the server sends with Retry-After when it did not do the request (429: too many requests, or a
# resource's storage still initializing just after its CRD was created): asked again, as urllib3 does.
RETRY_AFTER_STATUS = frozenset([413, 429, 503])
RETRIES = 3


class TransportError(Exception):
    """The server could not be reached, or the connection broke."""


class Response:
    """An answer: status, reason and the whole body (data); a successful stream's body is read by lines()
    instead, and the stream must be closed."""

    def __init__(self, status, reason, data=b"", lines=None, close=None, retry_after=None):
        self.status = status
        self.reason = reason
        self.data = data
        self.retry_after = retry_after  # seconds, where the server said when to ask again
        self._lines = lines
        self._close = close

    def lines(self):
        """The stream's non-empty lines, without their line ends."""
        try:
            for raw in self._lines:
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    yield line
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError("the stream broke: %s" % exc) from None

    def close(self):
        if self._close is not None:
            self._close()


class HttpTransport:
    """Requests to one server (https with an ssl context, or http) on the standard library's http.client: one
    connection kept alive between requests, a stream on a connection of its own, closed when it is."""

    def __init__(self, host, ssl_context=None):
        parts = urlsplit(host)
        self.ssl_context = ssl_context if parts.scheme == "https" else None
        self._host, self._port = parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")  # a server behind a proxy may have a path of its own
        self._idle = None

    def request(self, method, path, body=None, headers=None, stream=False):
        response = self._request(method, path, body, headers, stream)
        for _retry in range(RETRIES if method in IDEMPOTENT else 0):
            if response.retry_after is None:
                break
            time.sleep(response.retry_after)
            response = self._request(method, path, body, headers, stream)
        return response

    def _request(self, method, path, body, headers, stream):
        connection, kept = self._take()
        try:
            try:
                response = self._send(connection, method, path, body, headers, stream)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed as it went idle: the request never reached it.
                if not kept or method not in IDEMPOTENT:
                    raise
                connection.close()
                connection = self._new()
                response = self._send(connection, method, path, body, headers, stream)
            if stream and 200 <= response.status < 300:  # an error is answered whole
                return Response(
                    response.status,
                    response.reason,
                    lines=iter(response.readline, b""),
                    close=lambda: (response.close(), connection.close()),
                )
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise TransportError(exc) from None
        if response.will_close:
            connection.close()
        else:
            self._idle = connection
        retry_after = _seconds(response.getheader("Retry-After")) if response.status in RETRY_AFTER_STATUS else None
        return Response(response.status, response.reason, data, retry_after=retry_after)

    def _take(self):
        """The idle connection unless the server has closed it (readable while idle: EOF), else a new one."""
        connection, self._idle = self._idle, None
        if connection is not None and connection.sock is not None:
            readable, _w, _x = select.select([connection.sock], [], [], 0)
            if not readable:
                return connection, True
            connection.close()
        return self._new(), False

    def _new(self):
        if self.ssl_context is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=CONNECT_TIMEOUT, context=self.ssl_context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=CONNECT_TIMEOUT)

    def _send(self, connection, method, path, body, headers, stream):
        if connection.sock is None:
            connection.connect()
            # As urllib3 does: a small request goes out at once, not after the ACK of the one before (Nagle).
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock.settimeout(None if stream else READ_TIMEOUT)
        connection.request(method, self._prefix + path, body=body, headers=headers or {})
        return connection.getresponse()


class PoolTransport:
    """The same requests on an urllib3 pool: the kubernetes client's, which carries what that client read of a
    kubeconfig (proxies, exec and auth-provider plugins, its TLS settings)."""

    def __init__(self, host, pool_manager):
        self._host = host
        self.pool_manager = pool_manager

    def request(self, method, path, body=None, headers=None, stream=False):
        import urllib3  # noqa: PLC0415 - imported by the kubernetes client already; not needed otherwise

        try:
            response = self.pool_manager.request(
                method,
                self._host + path,
                body=body,
                headers=headers,
                preload_content=False,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=None if stream else READ_TIMEOUT),
            )
            if stream and 200 <= response.status < 300:
                return Response(
                    response.status,
                    response.reason,
                    lines=_split_lines(response.stream(4096), urllib3.exceptions.HTTPError),
                    close=lambda: (response.close(), response.release_conn()),
                )
            data = response.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(exc) from None
        response.release_conn()
        return Response(response.status, response.reason, data)


def _seconds(retry_after):
    """Retry-After in seconds (at most 10), or None; the API server sends seconds, never an HTTP date."""
    try:
        return min(max(int(retry_after), 0), 10)
    except (TypeError, ValueError):
        return None


def _split_lines(chunks, errors):
    buffer = b""
    try:
        for chunk in chunks:
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                yield line
    except errors as exc:
        raise TransportError("the stream broke: %s" % exc) from None
    if buffer:
        yield buffer
