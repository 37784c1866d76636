"""The server process under uvicorn: its socket bound before the model loads (a port in use is one line
at once, not after minutes of loading), and a drain deadline on shutdown.

    sock = listen("127.0.0.1", 8000)                      # OSError naming the address if it is taken
    serve(app, sock, protocol, graceful_timeout_s=30, log_level="info")

On SIGTERM or Ctrl-C uvicorn stops accepting and lets in-flight requests finish. After
`graceful_timeout_s` the requests still waiting for the model get 503 (`Batcher.refuse_waiting`; the
batch in the model finishes), and `CLOSE_AFTER_S` later uvicorn cancels whatever is left.
"""

import asyncio
import os
import socket

import uvicorn

CLOSE_AFTER_S = 5.0
KERNEL_CACHE = 128  # oneDNN kernels kept (its default, 1,024, left an idle server ~290 MB up after one load)


def bound_kernel_cache() -> None:
    """Cap oneDNN's primitive cache (one compiled kernel per matrix shape: bf16 matmuls on a CPU), unless
    the environment sets ONEDNN_PRIMITIVE_CACHE_CAPACITY. Requests of every length make new shapes, and the
    cache kept them: after a killed 2,000-request load an idle server held ~290 MB over its warm RSS,
    ~160 MB with 128 at no measurable cost in speed (docs/BENCHMARKS.md). Read when oneDNN makes its first
    kernel: call it before the judge loads."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(KERNEL_CACHE))


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv4 or IPv6, as the host resolves)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as e:
        hint = ": another server is listening there; choose another --port" if e.errno == 98 else ""
        raise OSError(e.errno, f"cannot listen on {host}:{port} ({e.strerror or e}){hint}") from None


class DrainingServer(uvicorn.Server):
    """uvicorn's Server whose shutdown refuses the requests still queued once the drain deadline passes."""

    def __init__(self, config: uvicorn.Config, batcher, graceful_timeout_s: float):
        super().__init__(config)
        self.batcher, self.graceful_timeout_s = batcher, graceful_timeout_s

    async def shutdown(self, sockets=None) -> None:
        deadline = asyncio.get_running_loop().call_later(
            self.graceful_timeout_s, self.batcher.refuse_waiting,
            f"this server is shutting down (its --graceful-timeout of {self.graceful_timeout_s:g} s passed)")
        try:
            await super().shutdown(sockets)
        finally:
            deadline.cancel()


def serve(app, sock: socket.socket, protocol, *, graceful_timeout_s: float, log_level: str = "info") -> bool:
    """Run `app` (gram.serve.create_app's) on `sock` until SIGTERM or Ctrl-C; False if it never started
    (the app's startup failed)."""
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=protocol,
                            timeout_graceful_shutdown=graceful_timeout_s + CLOSE_AFTER_S)
    server = DrainingServer(config, app.app.state.batcher, graceful_timeout_s)
    server.run(sockets=[sock])
    return server.started
