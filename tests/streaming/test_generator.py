"""The randomuser-style generator (seeded, malformed kinds) and the URL source (a local HTTP server)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice

import pytest

from producers.stream.records import KINESIS_MAX_RECORD_BYTES, RecordKind, UserGenerator
from producers.stream.source import SourceError, from_url

pytestmark = pytest.mark.unit
CLOCK = 1_767_268_800.0  # a fixed event-time clock makes a seeded run byte-identical


def test_same_seed_same_records() -> None:
    a = [r.data for r in UserGenerator(7, 0.1, clock=lambda: CLOCK).take(200)]
    b = [r.data for r in UserGenerator(7, 0.1, clock=lambda: CLOCK).take(200)]
    c = [r.data for r in UserGenerator(8, 0.1, clock=lambda: CLOCK).take(200)]
    assert a == b and a != c


def test_valid_records_have_the_randomuser_shape_and_our_two_fields() -> None:
    record = next(iter(UserGenerator(1)))
    doc = json.loads(record.data)
    assert list(doc)[:2] == ["record_id", "event_time"] and record.record_id == doc["record_id"]
    assert doc["event_time"].endswith("Z") and isinstance(doc["dob"]["age"], int)
    assert {"first", "last", "title"} <= set(doc["name"]) and "@" in doc["email"]
    lat = doc["location"]["coordinates"]["latitude"]
    assert isinstance(lat, str) and -90 <= float(lat) <= 90  # strings, as randomuser.me sends them
    assert record.expected == ("destination" if doc["dob"]["age"] >= 21 else "filtered")


def test_malformed_share_and_every_kind() -> None:
    records = list(UserGenerator(3, malformed_share=0.2).take(2000))
    kinds = Counter(r.kind for r in records)
    malformed = sum(n for k, n in kinds.items() if k is not RecordKind.OK)
    assert 300 < malformed < 500 and all(kinds[k] > 40 for k in RecordKind)
    for r in records:
        if r.kind is RecordKind.OK:
            continue
        assert r.expected == "error"
        if r.kind is RecordKind.BAD_JSON:
            with pytest.raises(ValueError):
                json.loads(r.data)
            assert r.record_id.encode() in r.data
        elif r.kind is RecordKind.OVERSIZE:
            assert len(r.data) > KINESIS_MAX_RECORD_BYTES
        else:
            assert isinstance(json.loads(r.data), dict)


def test_only_the_kinds_asked_for() -> None:
    kinds = {r.kind for r in UserGenerator(5, 1.0, kinds=(RecordKind.WRONG_TYPE,)).take(50)}
    assert kinds == {RecordKind.WRONG_TYPE}
    with pytest.raises(ValueError, match="malformed_share"):
        UserGenerator(1, 1.5)


class _Users(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Users)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def test_url_source_adds_id_and_event_time_and_refetches(server: ThreadingHTTPServer) -> None:
    users = [json.loads(r.data) for r in UserGenerator(2).take(3)]
    for u in users:
        del u["record_id"], u["event_time"]
    _Users.body = json.dumps({"results": users, "info": {"seed": "x"}}).encode()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/?results=3"
    got = list(islice(from_url(url), 7))  # more than a page: fetched again
    assert len({r.record_id for r in got}) == 7
    assert json.loads(got[0].data)["name"] == users[0]["name"] and got[0].event_time.endswith("Z")


def test_url_source_says_what_was_wrong(server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    _Users.body = b"<html>"
    with pytest.raises(SourceError, match="did not answer JSON"):
        next(from_url(url))
    _Users.body = b'{"users": []}'
    with pytest.raises(SourceError, match='"results" list'):
        next(from_url(url))
