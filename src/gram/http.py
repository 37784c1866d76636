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
        _keepers.add(loop.create_task(_close_with_loop(loop, client), name="gram-http-client"))
    return client


async def _close_with_loop(loop, client) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        _keepers.discard(asyncio.current_task())
        if _clients.get(loop) is client:
            del _clients[loop]
        await client.aclose()
