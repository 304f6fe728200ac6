"""Database URLs (``scheme://user[:password]@host[:port]/database``) parsed into typed parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from pydantic import MySQLDsn, PostgresDsn, TypeAdapter, ValidationError

DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432, "postgres": 5432}
_ALIASES = {"mariadb": "mysql", "postgres": "postgresql"}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_URL_TYPES: dict[str, Any] = {"mysql": MySQLDsn, "postgresql": PostgresDsn}


@dataclass(frozen=True)
class Dsn:
    scheme: str  # 'mysql' or 'postgresql'
    user: str
    password: str | None
    host: str
    port: int
    database: str
    options: dict[str, str] = field(default_factory=dict)  # the URL's query: ?ssl_ca=…, ?sslmode=…

    @property
    def is_local(self) -> bool:
        """On this machine: the one case where a connection may go without TLS."""
        return self.host in LOCAL_HOSTS

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.address}/{self.database}"

    def redacted(self) -> str:
        """The URL with the password masked: safe to print."""
        secret = ":***" if self.password else ""
        return f"{self.scheme}://{self.user}{secret}@{self.endpoint}"


def parse_dsn(url: str, expect: str) -> Dsn:
    """Parse a database URL whose scheme must be ``expect`` ('mysql' or 'postgresql'; aliases and
    driver suffixes such as ``mysql+pymysql`` are accepted) with pydantic's URL types. Raises ValueError
    with a readable message."""
    given, sep, rest = url.partition("://")
    scheme = _ALIASES.get(given.split("+", 1)[0].lower(), given.split("+", 1)[0].lower())
    example = f"{expect}://user[:password]@host:port/database"
    if not sep or scheme != expect:
        raise ValueError(f"expected a {expect} URL like {example}, got scheme {given if sep else '(none)'!r}")
    try:
        parsed = TypeAdapter(_URL_TYPES[expect]).validate_python(f"{expect}://{rest}")
    except ValidationError as exc:
        raise ValueError(f"not a {expect} URL like {example}: {exc.errors()[0]['msg']}") from None
    host = (
        parsed.hosts()[0]
        if isinstance(parsed, PostgresDsn)
        else {
            "username": parsed.username,
            "password": parsed.password,
            "host": parsed.host,
            "port": parsed.port,
        }
    )
    user = unquote(host["username"] or "")
    database = unquote((parsed.path or "").lstrip("/"))
    if not user:
        raise ValueError(f"the {expect} URL names no user; expected {example}")
    if not database or "/" in database:
        raise ValueError(f"the {expect} URL must name one database; expected {example}")
    return Dsn(
        scheme=scheme,
        user=user,
        password=unquote(host["password"]) if host["password"] is not None else None,
        host=host["host"] or "127.0.0.1",
        port=host["port"] or DEFAULT_PORTS[scheme],
        database=database,
        options=dict(parse_qsl(parsed.query or "", strict_parsing=False)),
    )


def with_credentials(url: str, password: str, user: str | None = None) -> str:
    """``url`` with its password (and optionally its user) set, both URL-quoted."""
    parts = urlsplit(url)
    name = quote(user if user is not None else unquote(parts.username or ""), safe="")
    netloc = f"{name}:{quote(password, safe='')}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit(parts._replace(netloc=netloc))
