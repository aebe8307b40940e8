"""Which URLs webhooks may be sent to: http(s) only, and, unless the operator allows it, only public addresses.

Refusing private, loopback, link-local and other non-global addresses keeps a subscription from turning the server
into a way into the site's own network (SSRF): the cloud metadata address, the database, an admin port. The check
runs when a subscription is made and again before every delivery, since a name may resolve differently later.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from clearway.errors import ValidationFailed

MAX_URL = 2048


def check_url(url: object, *, allow_private: bool) -> str:
    """The URL, when webhooks may be sent to it; otherwise a ValidationFailed that says why."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationFailed("a webhook needs a url")
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValidationFailed(f"the url is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationFailed(f"invalid url {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed(f"invalid url {url!r}: only http and https urls are allowed")
    if not parts.hostname:
        raise ValidationFailed(f"invalid url {url!r}: it has no host")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed("the url must not carry credentials: receivers check the signature instead")
    if parts.fragment:
        raise ValidationFailed("the url must not have a #fragment")
    refusal = refused_address(parts.hostname, port or (443 if parts.scheme == "https" else 80), allow_private)
    if refusal:
        raise ValidationFailed(f"the url's host is refused: {refusal}")
    return url


def refused_address(host: str, port: int, allow_private: bool) -> str | None:
    """Why webhooks may not go to that host (it does not resolve, or to a non-public address), or None."""
    literal = _ip(host.strip("[]"))
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            return f"{host} does not resolve ({exc})"
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if allow_private:
        return None
    for address in addresses:
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        if not (mapped or address).is_global:
            return (
                f"{host} is a private, loopback or otherwise non-public address ({address}); "
                "an operator may allow these with CLEARWAY_WEBHOOK_ALLOW_PRIVATE"
            )
    return None


def needs_lookup(host: str) -> bool:
    """Whether checking the host resolves a name (an address needs no lookup)."""
    return _ip(host.strip("[]")) is None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
