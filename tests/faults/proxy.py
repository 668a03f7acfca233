"""A TCP proxy between the service and PostgreSQL that can go silent.

`freeze()` models a network that stops answering without closing anything (a dead NAT entry, a
partitioned host): connections, old and new, stay open, and every byte either way is dropped. No
RST, no FIN: only the service's own timeouts can notice. `thaw()` forwards again; connections
that lost bytes while frozen are out of protocol sync, so they are closed and the service must
replace them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

from tests.support.ports import free_port

_CHUNK = 65536


class SilentProxy:
    def __init__(self, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = free_port()
        self._frozen = False
        self._spoiled: set[asyncio.StreamWriter] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    # -- control (from the test's thread) ------------------------------------------------

    def __enter__(self) -> Self:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def freeze(self) -> None:
        self._call(self._set_frozen(True))

    def thaw(self) -> None:
        self._call(self._set_frozen(False))

    @contextmanager
    def frozen(self) -> Iterator[None]:
        self.freeze()
        try:
            yield
        finally:
            self.thaw()

    def _call(self, coro: object) -> None:
        assert asyncio.iscoroutine(coro)
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- the proxy (on its own loop) -----------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def _set_frozen(self, frozen: bool) -> None:
        self._frozen = frozen
        if not frozen:
            spoiled, self._spoiled = self._spoiled, set()
            for writer in spoiled:
                writer.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        try:
            # While frozen, a new connection is accepted (the SYN is answered) and then ignored,
            # like a half-dead network path: the client's connect timeout must fire.
            while self._frozen:
                self._spoiled.add(client_w)
                await asyncio.sleep(0.05)
            if client_w.is_closing():
                return
            try:
                server_r, server_w = await asyncio.open_connection(self.host, self.target_port)
            except OSError:
                client_w.close()  # the target is down: pass the refusal on
                return
            self._writers.add(server_w)
            pair = (client_w, server_w)
            await asyncio.gather(
                self._pipe(client_r, server_w, pair), self._pipe(server_r, client_w, pair)
            )
        finally:
            self._writers.discard(client_w)
            client_w.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while data := await reader.read(_CHUNK):
                if self._frozen:
                    self._spoiled.update(pair)  # dropped bytes: this stream is now garbage
                    continue
                if pair[0] in self._spoiled or writer.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for end in pair:
                end.close()
                self._writers.discard(end)
            with contextlib.suppress(Exception):
                await writer.wait_closed()
