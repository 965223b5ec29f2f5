"""Order-independent table checksums over COPY text lines.

Each line (one row in PostgreSQL COPY text format, newline included) is hashed
with BLAKE2b-64; the table checksum is the sum of those 64-bit values modulo
2**64 together with the row count.  The engine hashes the lines it sends while
it sends them and the lines ``COPY (SELECT ...) TO STDOUT`` returns from the
target, so both sides are computed from the exact bytes stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b

MASK = (1 << 64) - 1
_from_bytes = int.from_bytes


@dataclass
class Checksum:
    rows: int = 0
    total: int = 0

    def add(self, line: bytes) -> None:
        self.total += _from_bytes(blake2b(line, digest_size=8).digest(), "little")
        self.rows += 1

    def add_many(self, lines: list[bytes]) -> None:
        h = blake2b
        fb = _from_bytes
        self.total += sum([fb(h(x, digest_size=8).digest(), "little") for x in lines])
        self.rows += len(lines)

    @property
    def hexdigest(self) -> str:
        return f"{self.total & MASK:016x}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Checksum):
            return NotImplemented
        return self.rows == other.rows and (self.total & MASK) == (other.total & MASK)

    def __hash__(self) -> int:  # pragma: no cover - not used as a key
        return hash((self.rows, self.total & MASK))


def hash_copy_stream(chunks: object) -> Checksum:
    """Checksum an iterable of COPY TO data messages (one row each, usually)."""
    cs = Checksum()
    batch: list[bytes] = []
    for data in chunks:  # type: ignore[attr-defined]
        b = bytes(data)
        if b.count(b"\n") == 1 and b.endswith(b"\n"):
            batch.append(b)
        else:
            batch.extend(x + b"\n" for x in b.split(b"\n")[:-1])
        if len(batch) >= 4096:
            cs.add_many(batch)
            batch = []
    if batch:
        cs.add_many(batch)
    return cs
