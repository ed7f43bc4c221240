"""Redis answers bytes or str depending on the client's settings; citywatch reads them as str."""

from __future__ import annotations


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
