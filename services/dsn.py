"""Database URLs (``scheme://user[:password]@host[:port]/database``) parsed into typed parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432, "postgres": 5432}
_ALIASES = {"mariadb": "mysql", "postgres": "postgresql"}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


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
    driver suffixes such as ``mysql+pymysql`` are accepted). Raises ValueError with a readable message."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    scheme = _ALIASES.get(scheme, scheme)
    example = f"{expect}://user[:password]@host:port/database"
    if scheme != expect:
        raise ValueError(f"expected a {expect} URL like {example}, got scheme {parts.scheme or '(none)'!r}")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"the port in the {expect} URL is not a number; expected {example}") from None
    user = unquote(parts.username or "")
    database = unquote(parts.path.lstrip("/"))
    if not user:
        raise ValueError(f"the {expect} URL names no user; expected {example}")
    if not database or "/" in database:
        raise ValueError(f"the {expect} URL must name one database; expected {example}")
    return Dsn(
        scheme=scheme,
        user=user,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname or "127.0.0.1",
        port=port,
        database=database,
        options=dict(parse_qsl(parts.query, strict_parsing=False)),
    )


def with_credentials(url: str, password: str, user: str | None = None) -> str:
    """``url`` with its password (and optionally its user) set, both URL-quoted."""
    parts = urlsplit(url)
    name = quote(user if user is not None else unquote(parts.username or ""), safe="")
    netloc = f"{name}:{quote(password, safe='')}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit(parts._replace(netloc=netloc))
