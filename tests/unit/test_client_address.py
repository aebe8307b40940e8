"""Which address is the client's, with and without trusted proxies in front."""

import pytest

from clearway.auth.client_address import UNKNOWN, ClientAddress


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", [], "203.0.113.9"),  # no proxy
        ("203.0.113.9", ["10.1.1.1"], "203.0.113.9"),  # an untrusted peer's header is ignored
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),  # one trusted proxy
        ("127.0.0.1", ["1.2.3.4, 198.51.100.7"], "198.51.100.7"),  # the client wrote 1.2.3.4 itself
        ("127.0.0.1", ["198.51.100.7, 10.0.0.5"], "198.51.100.7"),  # two trusted proxies in a row
        ("127.0.0.1", ["1.2.3.4", "198.51.100.7, 10.0.0.5"], "198.51.100.7"),  # header given twice
        ("127.0.0.1", ["10.0.0.6, 10.0.0.5"], "10.0.0.6"),  # every hop trusted: the left-most
        ("127.0.0.1", [], "127.0.0.1"),  # the proxy itself calling
        ("127.0.0.1", ["not-an-address"], "not-an-address"),  # kept as is: it will match no allowlist
        # No address at all is unknown, never "no check": an empty hop, a bare comma, a trailing comma.
        ("127.0.0.1", [""], UNKNOWN),
        ("127.0.0.1", [","], UNKNOWN),
        ("127.0.0.1", ["203.0.113.9,"], UNKNOWN),
        ("127.0.0.1", [" , 10.0.0.5"], UNKNOWN),
        (None, [], UNKNOWN),
    ],
)
def test_the_right_most_untrusted_address_is_the_client(peer, forwarded, expected):
    assert ClientAddress(["127.0.0.1/32", "10.0.0.0/8"]).resolve(peer, forwarded) == expected


def test_without_trusted_proxies_the_peer_is_the_client():
    assert ClientAddress([]).resolve("127.0.0.1", ["198.51.100.7"]) == "127.0.0.1"
