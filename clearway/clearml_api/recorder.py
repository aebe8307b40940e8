"""Keeps every successful ClearML API answer, when asked to (``CLEARWAY_RECORD_RESPONSES_DIR``, for tests).

The suite checks each recorded answer against the ``clearml`` SDK's own response schemas
(``tests/support/response_schemas.py``), whichever client caused it: a test, the SDK or an agent in a subprocess.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path


class ResponseRecorder:
    """Appends one JSON line per answer, ``{"endpoint", "version", "response"}``, to a file of this process."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._lock = threading.Lock()

    def record(self, endpoint: str, version: str, body: bytes) -> None:
        head = f'{{"endpoint":"{endpoint}","version":"{version}","response":'.encode()
        with self._lock, self._path.open("ab") as out:
            out.write(head + body + b"}\n")
