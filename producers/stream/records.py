"""randomuser.me-style user records, generated offline: the nested shape of the real API (name, gender,
location with string coordinates, email, login, dob/registered with age, phone, nat …) plus the two fields
our pipeline needs on every record: ``record_id`` (a UUID) and ``event_time`` (ISO 8601 UTC).

Seedable: the same seed gives the same records (ids included) for the same event-time clock. A share of
the records is malformed on purpose, each kind exercising one error path of the analytics:

    bad_json       truncated JSON (the record id is still readable at its start)
    missing_field  a required field removed (gender, dob.age, name.first, coordinates, event_time)
    wrong_type     a field of the wrong JSON type or an unparseable value ("42" as age, "north" …)
    oversize       over Kinesis' 1 MiB record limit: rejected by the producer, never sent

Each record says what the pipeline must do with it (``expected``): ``destination`` (valid, age ≥ 21),
``filtered`` (valid, under 21) or ``error``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

KINESIS_MAX_RECORD_BYTES = 1024 * 1024


class RecordKind(StrEnum):
    OK = "ok"
    BAD_JSON = "bad_json"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OVERSIZE = "oversize"


MALFORMED_KINDS: tuple[RecordKind, ...] = tuple(k for k in RecordKind if k is not RecordKind.OK)


@dataclass(frozen=True)
class ProducedRecord:
    record_id: str
    event_time: str
    kind: RecordKind
    expected: str  # destination | filtered | error
    data: bytes

    @property
    def partition_key(self) -> str:
        # A random UUID hashes uniformly over the shards' key ranges: load spreads evenly.
        return self.record_id


def iso_now(clock: Callable[[], float] = time.time) -> str:
    return iso_epoch(clock())


def iso_epoch(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds (several times faster than datetime.strftime)."""
    whole = int(seconds // 1)
    t = time.gmtime(whole)
    millis = int((seconds - whole) * 1000)
    date = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return f"{date}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{millis:03d}Z"


def _uuid4(rng: random.Random) -> str:
    """A version-4 UUID from the seeded generator (uuid.uuid4 would ignore the seed)."""
    h = f"{rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC << 60) | (0x4000 << 64) | (0x8 << 60):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def expected_for(doc: dict[str, Any]) -> str:
    age = doc.get("dob", {}).get("age")
    return "destination" if isinstance(age, int) and age >= 21 else "filtered"


# Small per-nationality vocabularies: enough variety for realistic records and aggregates.
_NATS: dict[str, dict[str, Any]] = {
    "US": {
        "male": ["James", "Robert", "Michael", "David", "Daniel", "Anthony", "Kevin", "Brian"],
        "female": ["Mary", "Jennifer", "Linda", "Susan", "Karen", "Nancy", "Betty", "Sandra"],
        "last": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson"],
        "country": "United States",
        "cities": [("Austin", "Texas"), ("Denver", "Colorado"), ("Salem", "Oregon"), ("Dayton", "Ohio")],
        "tz": ("-6:00", "Central Time (US & Canada), Mexico City"),
    },
    "FR": {
        "male": ["Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules"],
        "female": ["Emma", "Jade", "Louise", "Alice", "Chloé", "Léa"],
        "last": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit"],
        "country": "France",
        "cities": [("Lyon", "Rhône"), ("Nantes", "Loire-Atlantique"), ("Lille", "Nord")],
        "tz": ("+1:00", "Brussels, Copenhagen, Madrid, Paris"),
    },
    "BR": {
        "male": ["João", "Pedro", "Lucas", "Mateus", "Rafael"],
        "female": ["Ana", "Júlia", "Beatriz", "Larissa", "Camila"],
        "last": ["Silva", "Santos", "Oliveira", "Souza", "Lima"],
        "country": "Brazil",
        "cities": [("Campinas", "São Paulo"), ("Recife", "Pernambuco"), ("Curitiba", "Paraná")],
        "tz": ("-3:00", "Brazil, Buenos Aires, Georgetown"),
    },
    "AU": {
        "male": ["Jack", "Oliver", "William", "Noah", "Thomas"],
        "female": ["Charlotte", "Olivia", "Ava", "Mia", "Isla"],
        "last": ["Taylor", "Anderson", "White", "Harris", "Walker"],
        "country": "Australia",
        "cities": [("Perth", "Western Australia"), ("Hobart", "Tasmania"), ("Cairns", "Queensland")],
        "tz": ("+10:00", "Eastern Australia, Guam, Vladivostok"),
    },
}
_NAT_CODES = tuple(_NATS)
_YEAR_S = 365.25 * 86_400
_STREETS = ["Main St", "Oak Ave", "Park Lane", "Rue de la Paix", "Avenida Brasil", "George St", "High St"]
_MISSING = (("gender",), ("dob", "age"), ("name", "first"), ("location", "coordinates"), ("event_time",))


class UserGenerator:
    """An endless, seedable source of records; ``malformed_share`` of them malformed, the kinds in turn
    chosen at random from ``kinds``."""

    def __init__(
        self,
        seed: int | None = None,
        malformed_share: float = 0.0,
        kinds: tuple[RecordKind, ...] = MALFORMED_KINDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 <= malformed_share <= 1.0:
            raise ValueError(f"malformed_share must be within 0–1, got {malformed_share}")
        unknown = [k for k in kinds if k not in MALFORMED_KINDS]
        if unknown or (malformed_share > 0 and not kinds):
            raise ValueError(f"malformed kinds must be among {[k.value for k in MALFORMED_KINDS]}")
        self.rng = random.Random(seed)
        self.malformed_share = malformed_share
        self.kinds = kinds
        self.clock = clock

    def __iter__(self) -> Iterator[ProducedRecord]:
        while True:
            yield self.record()

    def take(self, n: int) -> Iterator[ProducedRecord]:
        for _ in range(n):
            yield self.record()

    def record(self) -> ProducedRecord:
        doc = self.user()
        kind = RecordKind.OK
        if self.malformed_share and self.rng.random() < self.malformed_share:
            kind = self.rng.choice(self.kinds)
        return self.encode(doc, kind)

    # --- one valid user ------------------------------------------------------------------------------
    def user(self) -> dict[str, Any]:
        rng = self.rng
        nat = rng.choice(_NAT_CODES)
        vocab = _NATS[nat]
        gender = "male" if rng.random() < 0.5 else "female"
        first, last = rng.choice(vocab[gender]), rng.choice(vocab["last"])
        city, state = rng.choice(vocab["cities"])
        now = self.clock()
        age = rng.randint(13, 80)  # about one in nine is under 21: the destination filter has work
        years_registered = rng.randint(0, 20)
        digits = rng.randint(10**9, 10**10 - 1)  # one draw for phone, cell, street number, postcode
        return {
            "record_id": _uuid4(rng),
            "event_time": iso_epoch(now),
            "gender": gender,
            "name": {"title": "Mr" if gender == "male" else "Ms", "first": first, "last": last},
            "location": {
                "street": {"number": digits % 9999 + 1, "name": rng.choice(_STREETS)},
                "city": city,
                "state": state,
                "country": vocab["country"],
                "postcode": str(digits // 10_000 % 90_000 + 10_000),
                # Strings with four decimals, as randomuser.me sends them.
                "coordinates": {
                    "latitude": f"{rng.uniform(-90, 90):.4f}",
                    "longitude": f"{rng.uniform(-180, 180):.4f}",
                },
                "timezone": {"offset": vocab["tz"][0], "description": vocab["tz"][1]},
            },
            "email": f"{first.lower()}.{last.lower()}@example.com",
            "login": {"uuid": _uuid4(rng), "username": f"{first.lower()}{digits % 900 + 100}"},
            "dob": {"date": iso_epoch(now - (age + rng.random()) * _YEAR_S), "age": age},
            "registered": {
                "date": iso_epoch(now - (years_registered + rng.random()) * _YEAR_S),
                "age": years_registered,
            },
            "phone": f"({digits % 900 + 100}) {digits // 1000 % 900 + 100}-{digits // 10**6 % 9000 + 1000}",
            "cell": f"({digits // 7 % 900 + 100}) {digits // 13 % 900 + 100}-{digits // 17 % 9000 + 1000}",
            "nat": nat,
        }

    # --- encoding, possibly malformed ----------------------------------------------------------------
    def encode(self, doc: dict[str, Any], kind: RecordKind) -> ProducedRecord:
        rng = self.rng
        expected = "error" if kind is not RecordKind.OK else expected_for(doc)
        if kind is RecordKind.MISSING_FIELD:
            *parents, leaf = rng.choice(_MISSING)
            target = doc
            for p in parents:
                target = target[p]
            del target[leaf]
        elif kind is RecordKind.WRONG_TYPE:
            rng.choice(_WRONG_TYPES)(doc)
        elif kind is RecordKind.OVERSIZE:
            doc["bio"] = "lorem ipsum " * (KINESIS_MAX_RECORD_BYTES // 12 + rng.randint(1, 2000))
        text = json.dumps(doc, ensure_ascii=False)
        if kind is RecordKind.BAD_JSON:
            # Cut after the id so the error report can still name the record.
            text = text[: rng.randint(len('{"record_id": "') + 40, len(text) - 2)]
        return ProducedRecord(
            record_id=doc["record_id"],
            event_time=str(doc.get("event_time", "")),
            kind=kind,
            expected=expected,
            data=text.encode("utf-8"),
        )


def _age_as_text(doc: dict[str, Any]) -> None:
    doc["dob"]["age"] = str(doc["dob"]["age"])


def _age_as_words(doc: dict[str, Any]) -> None:
    doc["dob"]["age"] = "forty-two"


def _latitude_as_word(doc: dict[str, Any]) -> None:
    doc["location"]["coordinates"]["latitude"] = "north"


def _gender_as_number(doc: dict[str, Any]) -> None:
    doc["gender"] = 1


def _event_time_as_word(doc: dict[str, Any]) -> None:
    doc["event_time"] = "yesterday"


_WRONG_TYPES: tuple[Callable[[dict[str, Any]], None], ...] = (
    _age_as_text,
    _age_as_words,
    _latitude_as_word,
    _gender_as_number,
    _event_time_as_word,
)
