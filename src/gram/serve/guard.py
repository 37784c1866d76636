"""What the server checks before a request reaches an endpoint, and what bounds a connection.

- `Guard` (an ASGI wrapper around the app): the `Host` header must name this server when it listens on
  loopback (a page on another site cannot reach it through DNS rebinding); a body over `max_bytes` gets
  413, whether its length is declared or not; a body that takes longer than `body_timeout_s` to arrive gets
  408.
- `bounded_protocol` (uvicorn's h11 protocol with two bounds): at most `max_connections` open connections
  (one more is answered 503 and closed within a second), and a request's headers must be complete within
  `header_timeout_s` of the connection opening or of the previous response (a client that sends half a
  request and waits is closed), so idle half-sent requests cannot use up the process's file descriptors.
  A client that half-closes after its request (SHUT_WR) is answered before the connection closes; one
  that closed or was killed (the same end of stream) is found gone by a `100 Continue` probe, and its
  request leaves the queue.
"""

import asyncio
import json
import resource

import h11
from fastapi import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

# A declared-oversize body is read and dropped before the 413 goes out (up to this many bytes): closing a
# connection with unread bytes makes the kernel reset it, and the client then loses the 413 it was sent.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


def host_of(header: bytes) -> str:
    """The host name of a Host header, without port: b"[::1]:8000" -> "::1", b"Example.com:80" -> "example.com"."""
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class Guard:
    """ASGI wrapper: Host check, body size limit, body read timeout (see the module docstring)."""

    def __init__(self, app, max_bytes: int, body_timeout_s: float | None = 30.0,
                 allowed_hosts: tuple[str, ...] | None = None):
        self.app, self.max_bytes, self.body_timeout_s = app, max_bytes, body_timeout_s
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.state = app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.allowed_hosts is not None and host_of(headers.get(b"host", b"")) not in self.allowed_hosts:
            return await _answer(send, 400, "Host header: names another server than this one (allowed: "
                                            f"{', '.join(sorted(self.allowed_hosts))})")
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            if int(declared) <= DRAIN_LIMIT_BYTES:
                await self._drain(receive)
            return await _answer(send, 413, f"request body over this server's limit of {self.max_bytes} bytes")
        seen, deadline, complete = 0, None, False

        async def checked():
            nonlocal seen, deadline, complete
            if complete or self.body_timeout_s is None:  # after the body, a receive waits for a disconnect
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.body_timeout_s
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise _Refused(408, f"request body not received within {self.body_timeout_s:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _Refused(413, f"request body over this server's limit of {self.max_bytes} bytes")
                complete = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, checked, send)
        except _Refused as e:
            await _answer(send, e.status_code, e.detail)

    async def _drain(self, receive) -> None:
        """Read and drop the body, for at most body_timeout_s."""
        async def read_all():
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return

        try:
            await asyncio.wait_for(read_all(), self.body_timeout_s)
        except TimeoutError:
            pass


async def _answer(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class _Refused(HTTPException):
    """Raised from `receive` while a body streams in: FastAPI turns other exceptions from the body reader
    into 400, but passes an HTTPException through, so the client gets this status."""


def default_max_connections() -> int:
    """Open connections the server accepts: the file-descriptor limit less 64 for the process's own files,
    at most 1,024."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(8, min(1024, soft - 64))


_BUSY = b'{"detail":"this server has too many open connections: try again later"}'
TOO_MANY_CONNECTIONS = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
                        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BUSY), _BUSY))


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
PROBE_AFTER_S = 0.5  # the second probe: by then a gone peer's reset to the first has usually arrived
PROBE_EVERY_S = 4.0  # the probes' spacing doubles up to this while the request waits (a round trip longer
                     # than 0.5 s is still found at a later probe)


def bounded_protocol(max_connections: int, header_timeout_s: float):
    """uvicorn's h11 protocol class with a connection cap and a header read timeout (module docstring)."""

    class BoundedH11Protocol(H11Protocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self._header_timer, self._refusing, self._peer_closed = None, False, False
            if len(self.connections) > max_connections:
                # answer 503 and stop writing; what the client still sends is read and dropped for a second
                # (closing with unread bytes would reset the connection and lose the answer)
                self._refusing = True
                transport.write(TOO_MANY_CONNECTIONS)
                if transport.can_write_eof():
                    transport.write_eof()
                self.loop.call_later(1.0, transport.close)
                return
            self._arm_header_timer()

        def data_received(self, data):
            if not self._refusing:
                super().data_received(data)

        def eof_received(self):
            """A client that sends its request and half-closes (SHUT_WR) is still answered: the
            connection stays open for writing until the requests already read are answered. But a
            client that closed its socket, or was killed, sends the same end of stream, and its work
            would be scored until --request-timeout: so the connection is probed with `100 Continue`
            (a 1xx every HTTP/1.1 client reads past) until it is answered, 0.5 s, 1 s, 2 s, then every
            4 s apart; to a socket that is gone the write after its reset fails, the connection is
            lost, and the request leaves the queue."""
            self._peer_closed = True
            if self._answered_all():
                return False
            if self.conn.their_http_version != b"1.1":  # no 1xx to an HTTP/1.0 client (RFC 9110)
                return True
            self._probe(PROBE_AFTER_S)
            return True

        def _probe(self, next_s: float):
            if not self.transport.is_closing() and not self._answered_all() and not self.cycle.response_started:
                self.transport.write(CONTINUE)
                self.loop.call_later(next_s, self._probe, min(2 * next_s, PROBE_EVERY_S))

        def _answered_all(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm_header_timer(self):
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _headers_too_slow(self):
            self._header_timer = None
            # IDLE: the request line and headers of the next request are not all here yet
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def on_response_complete(self):
            super().on_response_complete()  # parses a pipelined request already read, if any
            if self.transport.is_closing():
                return
            if self._peer_closed and self._answered_all():
                self.transport.close()
                return
            self._arm_header_timer()

        def connection_lost(self, exc):
            if getattr(self, "_header_timer", None) is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

    return BoundedH11Protocol
