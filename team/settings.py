"""The team's settings: where Redis is (`CODEX_ASYNC_REDIS`) and what a machine is called.

Redis is the team's trust boundary (SECURITY.md): a plain `redis://` address is accepted only
on the loopback interface; anything reachable from other machines must be `rediss://` (TLS).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from jobstore import InvalidInput, JobStoreError, echoed

ENV_REDIS = "CODEX_ASYNC_REDIS"
_SCHEMES = ("redis", "rediss")
_LOOPBACK_NAMES = frozenset({"localhost"})
# Host ids and team job ids end up in Redis key names and in logs: short, plain characters.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redis_url(url: object) -> str:
    """A Redis address the team may use: `redis://` on loopback, `rediss://` anywhere."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(f"the Redis address must be a redis:// or rediss:// URL (${ENV_REDIS})")
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES:
        raise InvalidInput(
            f"the Redis address must start with redis:// or rediss://, not {echoed(parts.scheme + '://')}"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidInput(f"the Redis address is not a valid URL: {exc}") from None
    if not host:
        raise InvalidInput("the Redis address names no host (e.g. redis://127.0.0.1:6379/0)")
    if parts.scheme == "redis" and not is_loopback(host):
        raise InvalidInput(
            f"Redis on {echoed(host)} is not on this machine: use rediss:// (TLS) for a Redis "
            "other machines reach; plain redis:// is accepted on 127.0.0.1, ::1 or localhost only"
        )
    return url.strip()


def redis_url_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """The team's Redis address, checked; None when the variable is unset (a single-machine store)."""
    value = environ.get(ENV_REDIS, "")
    return check_redis_url(value) if value.strip() else None


def check_name(what: str, value: object) -> str:
    """A host id or a team job id: 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidInput(
            f"{what} must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
            f"not {echoed(value)}"
        )
    return value


class TeamRedisError(JobStoreError):
    """The team's Redis refused us or could not be reached: one line, no traceback, no password."""


def redis_place(url: str) -> str:
    """Where a Redis URL points, without its user or password (for messages and logs)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{port}' if port else ''}"


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for each in error.exceptions:
            yield from _leaves(each)
    else:
        yield error


@contextlib.contextmanager
def redis_errors_explained(url: str) -> Iterator[None]:
    """Redis's refusals (wrong password, a rule of its ACL, TLS, nothing listening) as one
    `TeamRedisError` line naming the server but never the password."""
    from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

    try:
        yield
    except (RedisError, OSError, BaseExceptionGroup) as exc:
        place = redis_place(url)
        for leaf in _leaves(exc):
            if isinstance(leaf, AuthenticationError):
                raise TeamRedisError(
                    f"Redis at {place} refused the credentials (wrong user name or password, or the "
                    f"user is disabled): check ${ENV_REDIS} or --redis"
                ) from None
            if isinstance(leaf, NoPermissionError):
                raise TeamRedisError(
                    f"Redis at {place} does not let this user do what the team needs ({leaf}): give it "
                    "the ACL rules in SECURITY.md"
                ) from None
            if isinstance(leaf, (RedisError, OSError)):
                raise TeamRedisError(f"cannot use Redis at {place}: {leaf}") from None
        raise
