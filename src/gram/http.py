"""One HTTP client per event loop, for gram's calls to model servers (verl's `compute_score` to `gram serve`,
the judges on vLLM OpenAI servers): reused by every call on the loop, since a client per call cost ~33 ms
of CPU under load, and closed when its loop ends its tasks (`asyncio.run` cancels them at its end), so a
caller that runs a new loop per call leaks no client and no socket. Headers and timeouts go with each
request, not the client."""

from __future__ import annotations

import asyncio
import weakref

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_keepers: set = set()  # the tasks that close each loop's client (held: a loop keeps only weak references)


def loop_client():
    """The running event loop's httpx.AsyncClient, made on first use."""
    import httpx

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = httpx.AsyncClient()
        keeper = loop.create_task(_close_with_loop(loop, client), name="gram-http-client")
        # a loop that is dropped without ending its tasks (verl's reward worker keeps its loop to the end of
        # the process) leaves this one pending by design: not worth asyncio's "Task was destroyed" warning
        keeper._log_destroy_pending = False
        _keepers.add(keeper)
    return client


async def _close_with_loop(loop, client) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        if _clients.get(loop) is client:
            del _clients[loop]
        try:
            _keepers.discard(asyncio.current_task())
            await client.aclose()
        except RuntimeError:  # closed as its loop is dropped at exit, with no loop running: nothing to close on
            pass
