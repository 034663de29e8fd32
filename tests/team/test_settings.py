"""The team's settings: the Redis address (loopback or TLS), host ids, the key names."""

from __future__ import annotations

import pytest

from jobstore import InvalidInput
from team.keys import TeamKeys
from team.settings import ENV_REDIS, check_name, check_redis_url, is_loopback, redis_url_from_env


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://localhost",
        "redis://[::1]:6380",
        "redis://user:secret@127.0.0.1:6379/1",
        "rediss://redis.example.net:6380/0",
        "rediss://user:secret@10.1.2.3",
    ],
)
def test_accepted_addresses(url: str) -> None:
    assert check_redis_url(url) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://10.0.0.5:6379", "rediss://"),
        ("redis://redis.example.net", "not on this machine"),
        ("http://127.0.0.1:6379", "must start with redis://"),
        ("unix:///tmp/redis.sock", "must start with redis://"),
        ("redis://127.0.0.1:port", "not a valid URL"),
        ("redis:///0", "names no host"),
        ("", "must be a redis://"),
        (None, "must be a redis://"),
    ],
)
def test_refused_addresses(url: object, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        check_redis_url(url)


def test_unset_variable_means_one_machine() -> None:
    assert redis_url_from_env({}) is None
    assert redis_url_from_env({ENV_REDIS: " "}) is None
    assert redis_url_from_env({ENV_REDIS: "redis://127.0.0.1:7000"}) == "redis://127.0.0.1:7000"
    with pytest.raises(InvalidInput):
        redis_url_from_env({ENV_REDIS: "redis://192.168.1.9"})


def test_loopback() -> None:
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("LOCALHOST")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.net")


@pytest.mark.parametrize("name", ["laptop", "build-2.eu_west", "a" * 64])
def test_names_accepted(name: str) -> None:
    assert check_name("--host-id", name) == name


@pytest.mark.parametrize("name", ["", "-x", "a b", "a:b", "a" * 65, "é", None, 3])
def test_names_refused(name: object) -> None:
    with pytest.raises(InvalidInput, match="--host-id"):
        check_name("--host-id", name)


def test_keys_share_one_namespace() -> None:
    keys = TeamKeys("team-a")
    names = [
        keys.claim("t1"),
        keys.end("t1"),
        keys.cancel("t1"),
        keys.lease("h1"),
        keys.claimed,
        keys.cancel_channel,
        keys.docket_name,
    ]
    assert all(name.startswith("team-a:") for name in names)
    assert len(set(names)) == len(names)
