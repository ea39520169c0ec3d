"""A small thread-safe LRU cache of unwrapped citizen data keys.

Unwrapping a data key is an AES-GCM decryption plus a database read; a busy delivery path or an
inbox page would otherwise repeat it for every message. Bounded so that a long-running process
holds only the keys of recently active citizens in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["DataKeyCache"]


class DataKeyCache:
    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._keys: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DataKeyCache(size={len(self._keys)}, capacity={self._capacity})"

    def get(self, citizen_id: str) -> bytes | None:
        with self._lock:
            dek = self._keys.get(citizen_id)
            if dek is not None:
                self._keys.move_to_end(citizen_id)
            return dek

    def put(self, citizen_id: str, dek: bytes) -> None:
        with self._lock:
            self._keys[citizen_id] = dek
            self._keys.move_to_end(citizen_id)
            while len(self._keys) > self._capacity:
                self._keys.popitem(last=False)

    def discard(self, citizen_id: str) -> None:
        with self._lock:
            self._keys.pop(citizen_id, None)
