"""HTTP Range requests (RFC 9110, section 14): one byte range, or the whole file."""

from __future__ import annotations

from clearway.errors import RangeNotSatisfiable


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, stop)`` of the single range asked for, or None to send the whole file.

    Headers we do not understand, and several ranges at once, are ignored (the whole file is a valid answer);
    a well-formed range that starts past the end is refused with 416.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (_digits(first) or first == "") or not (_digits(last) or last == ""):
        return None
    if first == "":
        if last == "" or int(last) == 0:
            raise RangeNotSatisfiable(f"Empty suffix range for a file of {size} bytes")
        return max(0, size - int(last)), size
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range is ignored, not refused
    if start >= size:
        raise RangeNotSatisfiable(f"Range starts at {start}, past the end of a file of {size} bytes")
    return start, min(int(last) + 1 if last else size, size)


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also says yes to ``²`` and other scripts' digits, which ``int`` refuses."""
    return text.isascii() and text.isdigit()
