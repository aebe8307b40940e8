"""The gateway's HTTP surface: on-demand inference and template enqueue behind random ids, for applications.

Native routes under ``/gateway/v1`` and Snap4City's under ``/clearml/serve`` (the access token may come in the
body there), both translated onto :mod:`clearway.domain.gateway`. These routes identify their callers themselves
(:mod:`clearway.gateway.callers`): they take gateway tokens, which no other route accepts.
"""

PREFIX = "/gateway/v1"
SNAP4CITY_PREFIX = "/clearml/serve"
SELF_AUTHENTICATED = (PREFIX + "/", SNAP4CITY_PREFIX + "/")


def authenticates_itself(path: str) -> bool:
    return path.startswith(SELF_AUTHENTICATED)
