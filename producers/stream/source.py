"""Records fetched from a randomuser.me-compatible URL (``{"results": [user, …]}``), e.g.
``https://randomuser.me/api/?results=500``. Each user gets our ``record_id`` and ``event_time``; the page is
fetched again until enough records came. Errors name the URL and what was wrong with the answer."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.error import URLError
from urllib.request import Request, urlopen

from producers.stream.records import ProducedRecord, RecordKind, expected_for, iso_now

MAX_PAGE_BYTES = 64 * 1024 * 1024


class SourceError(RuntimeError):
    """The URL did not give randomuser-style records; the message says why."""


def fetch_page(url: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    request = Request(url, headers={"Accept": "application/json", "User-Agent": "bdml-stream-producer"})
    try:
        with urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_PAGE_BYTES + 1)
    except (URLError, OSError) as exc:
        raise SourceError(f"cannot fetch {url}: {exc}") from None
    if len(body) > MAX_PAGE_BYTES:
        raise SourceError(f"{url} answered more than {MAX_PAGE_BYTES // 2**20} MiB; ask for fewer results")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise SourceError(f"{url} did not answer JSON ({exc}); it starts {body[:80]!r}") from None
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise SourceError(f'{url} answered JSON without a "results" list of objects (randomuser.me shape)')
    if not results:
        raise SourceError(f"{url} answered an empty results list")
    return results


def from_url(
    url: str, clock: Callable[[], float] = time.time, timeout: float = 30.0
) -> Iterator[ProducedRecord]:
    """An endless iterator over the URL's users (the page is fetched again when used up)."""
    while True:
        for user in fetch_page(url, timeout):
            # Our two fields come first, so a truncated record still shows its id.
            fields = {k: v for k, v in user.items() if k not in ("record_id", "event_time")}
            doc = {"record_id": str(uuid.uuid4()), "event_time": iso_now(clock), **fields}
            yield ProducedRecord(
                record_id=doc["record_id"],
                event_time=doc["event_time"],
                kind=RecordKind.OK,
                expected=expected_for(doc),
                data=json.dumps(doc, ensure_ascii=False).encode("utf-8"),
            )
