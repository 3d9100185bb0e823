"""The cache backend: Django's RedisCache that fails open.

Nothing we keep in the cache is the only copy (the census is recomputed, the heartbeat is re-sent, rate-limit
counters restart), so a Redis outage must cost a cache miss, not a 500: every operation that meets a Redis
error logs a warning and answers as if the cache were empty. After an error the backend skips Redis for
`OPTIONS["retry_after"]` seconds (default 5), so a page that reads the cache ten times does not pay the
connect timeout ten times. Sessions live in the database (Django's default engine), never here.

Failing open, for each operation: `get` → default, `get_many` → {}, `has_key` → False, `set`/`touch`/
`delete` → False, `incr` → the delta (as if the key were new), and `add` → True: allauth's rate limiter
takes a lock with `add` and refuses the login when it cannot, so "Redis down" must read as "lock taken",
letting sign-in through unthrottled (logged) instead of locking every user out.

`ping()` does not fail open: /healthz asks it whether Redis really answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

T = TypeVar("T")


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: str, params: dict) -> None:
        params = {**params, "OPTIONS": dict(params.get("OPTIONS") or {})}
        self._retry_after = float(params["OPTIONS"].pop("retry_after", 5))
        super().__init__(server, params)
        self._down_until = 0.0

    def _guard(self, operation: str, call: Callable[[], T], fallback: T) -> T:
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return call()
        except RedisError as error:
            self._down_until = time.monotonic() + self._retry_after
            log.warning(
                "cache %s failed open (%s: %s); Redis skipped for %.0f s",
                operation,
                type(error).__name__,
                error,
                self._retry_after,
            )
            return fallback

    def ping(self) -> bool:
        """True when Redis answers; raises when it does not (no failing open here)."""
        return bool(self._cache.get_client(write=True).ping())

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guard("get", lambda: super(FailOpenRedisCache, self).get(key, default, version), default)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return self._guard("incr", lambda: super(FailOpenRedisCache, self).incr(key, delta, version), delta)

    def set_many(self, data: dict, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list:
        parent = super().set_many
        return self._guard("set_many", lambda: parent(data, timeout, version), list(data))


def _fail_open(name: str, fallback: Any) -> Callable[..., Any]:
    parent = getattr(RedisCache, name)

    def method(self: FailOpenRedisCache, *args: Any, **kwargs: Any) -> Any:
        return self._guard(
            name, lambda: parent(self, *args, **kwargs), dict(fallback) if fallback == {} else fallback
        )

    method.__name__ = method.__qualname__ = name
    return method


for _name, _fallback in {
    "add": True,
    "set": False,
    "touch": False,
    "delete": False,
    "get_many": {},
    "has_key": False,
    "delete_many": None,
    "clear": False,
}.items():
    setattr(FailOpenRedisCache, _name, _fail_open(_name, _fallback))
