"""Allowlists: each restricted level must allow the address; an empty level restricts nothing."""

import pytest

from clearway.domain.allowlists import AddressPolicy, parse_networks
from clearway.errors import ValidationFailed


def test_no_rules_allow_everything_even_an_unknown_address():
    assert AddressPolicy.from_rules([]).allows("198.51.100.7")
    assert AddressPolicy.from_rules([]).allows(None)


def test_every_restricted_level_must_allow():
    policy = AddressPolicy.from_rules([("org", "10.0.0.0/8"), ("user", "10.1.0.0/16"), ("user", "192.168.1.0/24")])
    assert policy.allows("10.1.2.3")
    assert not policy.allows("10.2.0.1")  # in the organisation's range, not in the user's
    assert not policy.allows("192.168.1.5")  # in the user's range, not in the organisation's
    assert not policy.allows("garbage") and not policy.allows(None)


def test_ipv6_and_ipv4_mapped_addresses():
    policy = AddressPolicy.from_rules([("role", "2001:db8::/32"), ("role", "10.0.0.0/8")])
    assert policy.allows("2001:db8::1")
    assert policy.allows("::ffff:10.9.9.9")
    assert not policy.allows("2001:db9::1")


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "10.0.0.0/33", "nonsense", ""])
def test_malformed_ranges_are_refused(bad):
    with pytest.raises(ValidationFailed):
        parse_networks([bad])
