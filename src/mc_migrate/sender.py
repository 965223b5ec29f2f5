"""Send COPY data from a thread, with a small bounded queue.

The load pass is CPU-bound in the main thread (reading and converting rows);
handing each chunk to a sender thread lets the conversion of the next chunk
go on while libpq writes the previous one to the socket (libpq calls release
the GIL).  psycopg's own ``QueuedLibpqWriter`` does the same with a queue of
1,024 buffers of up to 128 KiB; this one holds at most :data:`QUEUE_CHUNKS`
chunks, so a slow server or network never costs more than a few MiB of
memory, whatever the size of the database.
"""

from __future__ import annotations

import contextlib
import threading
from queue import Queue
from typing import Any

from psycopg import Cursor
from psycopg.copy import LibpqWriter

QUEUE_CHUNKS = 16  # chunks of ~256 KiB (load.FLUSH_BYTES): at most ~4 MiB waiting


class ThreadedWriter(LibpqWriter):
    """A :class:`psycopg.copy.LibpqWriter` whose writes happen in a sender thread.

    An error raised while sending (a lost connection, a server error) stops
    the thread and is raised again by the next :meth:`write` or by
    :meth:`finish`, so it reaches the caller like a direct write's would.
    """

    def __init__(self, cursor: Cursor[Any], *, chunks: int = QUEUE_CHUNKS) -> None:
        super().__init__(cursor)
        self._chunks: Queue[bytes | bytearray | memoryview | None] = Queue(maxsize=chunks)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _send(self) -> None:
        try:
            while (data := self._chunks.get()) is not None:
                super().write(data)
        except BaseException as exc:
            self._error = exc
            while self._chunks.get() is not None:  # unblock the producer until it stops
                pass

    def write(self, data: Any) -> None:
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._send, name="mc-copy-sender", daemon=True)
            self._thread.start()
        self._chunks.put(data)

    def _stop(self) -> None:
        if self._thread is not None:
            self._chunks.put(None)
            self._thread.join()
            self._thread = None

    def finish(self, exc: BaseException | None = None) -> None:
        self._stop()
        if self._error is not None:
            with contextlib.suppress(Exception):  # end the COPY if the connection still works
                super().finish(exc or self._error)
            raise self._error
        super().finish(exc)
