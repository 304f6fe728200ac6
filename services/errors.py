"""Expected failures, and the one place that turns any failure into a message a person can act on.

Code raises ``UsageError`` (exit 2: fix the input) or ``RuntimeFailure`` (exit 1: something outside the
input failed). Library exceptions (pydantic settings, botocore, the database drivers, DuckDB, OSError) are
recognised here, so pipelines never catch them only to reword them. ``handled`` wraps the CLI's commands:
one or two lines and an exit code; the traceback only with BDML_DEBUG=1."""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import sys
import tomllib
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.text import Text
from typer.exceptions import Abort, Exit, TyperException

RUNTIME, USAGE, INTERRUPTED, PIPE_CLOSED = 1, 2, 130, 141  # the last two as a shell reports the signals

# Pipeline error classes (which services may not import) mapped to their exit code by the composition root.
Known = Mapping[type[BaseException], int]


class BdmlError(Exception):
    """A failure whose message names what failed; ``hint`` says what to do about it."""

    exit_code = RUNTIME

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(BdmlError, ValueError):
    """The input is wrong (a setting, a path, an argument, a file's shape): fix it and run again. Also a
    ValueError, so code that validates values keeps its meaning for callers that are not the CLI."""

    exit_code = USAGE


class RuntimeFailure(BdmlError):
    """Something outside the input failed (a server, credentials, a check)."""

    exit_code = RUNTIME


@dataclass(frozen=True)
class Failure:
    message: str
    hint: str = ""
    exit_code: int = RUNTIME


def debug() -> bool:
    return os.environ.get("BDML_DEBUG", "") not in ("", "0")


@contextmanager
def handled(known: Known) -> Iterator[None]:
    """Run a command: any exception becomes ``describe``'s lines on stderr and its exit code."""
    try:
        yield
    except (TyperException, Exit, Abort):
        raise  # the CLI framework's own usage errors and exits print as they always have
    except SystemExit as exc:
        if isinstance(exc.code, str):  # sys.exit("message"): used here for bad settings and arguments
            _print(Failure(exc.code, exit_code=USAGE))
            raise SystemExit(USAGE) from None
        raise
    except KeyboardInterrupt:
        _print(Failure("interrupted", exit_code=INTERRUPTED))
        raise SystemExit(INTERRUPTED) from None
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _reader_gone():
            # Whoever read the output has gone (`bdml … | head`): nothing failed and nobody is
            # listening, so stop without a word, as other command-line tools do. (A broken pipe to a
            # server or a child process is a failure like any other, below.)
            _discard_stdout()
            raise SystemExit(PIPE_CLOSED) from None
        if debug():
            traceback.print_exception(exc)
        failure = describe(exc, known)
        _print(failure)
        raise SystemExit(failure.exit_code) from None


def _stdout_fd() -> int | None:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a buffer without a descriptor
        return None


def _reader_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more: polling its end then reports an error."""
    fd = _stdout_fd()
    if fd is None or not hasattr(select, "poll"):  # no poll (Windows): report the error as any other
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


def _discard_stdout() -> None:
    """Point stdout at the null device: Python flushes it once more at exit, into the closed pipe."""
    fd = _stdout_fd()
    if fd is not None:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def describe(exc: BaseException, known: Known = {}) -> Failure:  # noqa: B006 (read only)
    """The message for ``exc``. Unless ``exc`` is a ``BdmlError``, a server, credentials or bucket failure
    anywhere in its chain of causes wins over the wrappers around it (an HQL statement that failed because
    S3 is down says so)."""
    if isinstance(exc, BdmlError):  # worded by its author on purpose
        return Failure(str(exc), exc.hint, exc.exit_code)
    chain = _chain(exc)
    for e in chain:
        if failure := _outside(e):
            return failure
    for e in chain:
        if failure := _inside(e, known):
            return failure
    return Failure(
        str(exc) or type(exc).__name__,
        f"({type(exc).__name__}: set BDML_DEBUG=1 to see where it came from)",
    )


def check_port_free(host: str, port: int) -> None:
    """Raise the bind error now when something listens on the port: a WSGI server started anyway only
    logs it and retries."""
    socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()


# --- the causes outside the input: endpoints, servers, credentials, buckets ---------------------------


def _outside(e: BaseException) -> Failure | None:
    from botocore import exceptions as boto
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(e, boto.SSLError):
        return Failure(f"TLS to {_endpoint()} failed: {e}", "check its certificate, or AWS_CA_BUNDLE")
    if isinstance(e, boto.ConnectionError | boto.HTTPClientError | Urllib3Error):
        return _endpoint_down(getattr(e, "kwargs", {}).get("endpoint_url"))
    if isinstance(e, boto.NoCredentialsError | boto.PartialCredentialsError):
        return Failure(
            f"no AWS credentials for {_endpoint()}",
            "set BDML_AWS__ACCESS_KEY_ID and BDML_AWS__SECRET_ACCESS_KEY (emulator), "
            "or AWS_PROFILE / `aws sso login` (AWS)",
        )
    if isinstance(e, boto.ClientError):
        return _aws_refused(e)
    return _database(e) or _duckdb(e) or _port(e)


def _endpoint_down(url: str | None = None) -> Failure:
    return Failure(
        f"the S3/AWS endpoint at {_endpoint(url)} does not answer",
        "run `bdml up` (embedded) or check BDML_AWS__ENDPOINT_URL",
    )


def _missing_bucket(bucket: str) -> Failure:
    return Failure(
        f"S3 bucket {bucket or '(unnamed)'} does not exist at {_endpoint()}",
        "fix its name (BDML_S3__RAW_BUCKET, BDML_S3__PROCESSED_BUCKET, BDML_STREAM__BUCKET) "
        "or run the step that creates it",
    )


def _bad_credentials(code: str) -> Failure:
    return Failure(
        f"{_endpoint()} rejected the AWS credentials ({code})",
        "check BDML_AWS__ACCESS_KEY_ID / BDML_AWS__SECRET_ACCESS_KEY, or refresh your AWS login "
        "(`aws sso login`, AWS_PROFILE)",
    )


_CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidToken",
        "AuthFailure",
        "RequestExpired",
    }
)


def _aws_refused(e: Any) -> Failure | None:
    error = e.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code == "NoSuchBucket":
        return _missing_bucket(error.get("BucketName") or str(error.get("Resource", "")).strip("/"))
    if code in _CREDENTIAL_CODES:
        return _bad_credentials(code)
    if code in ("AccessDenied", "AccessDeniedException"):
        return Failure(
            f"AWS denied {e.operation_name}: {error.get('Message', code)}",
            "the credentials in use lack this permission: use a role or profile that has it",
        )
    return None  # other refusals: worded after the pipeline's own errors (see _inside)


# psycopg says what went wrong in words only; the first match wins ("connection failed: … password …").
_PG_PROBLEMS = (
    ("login", r"password|authentication|role .* does not exist"),
    ("database", r"database .* does not exist"),
    ("down", r"connection failed|server closed|timeout"),
)


def _database(e: BaseException) -> Failure | None:
    import psycopg
    import pymysql

    if isinstance(e, pymysql.err.OperationalError):
        code, text = (*e.args, 0, "")[:2]
        client_side = isinstance(code, int) and code >= 2000  # 2xxx: the client could not talk to it
        problem = {1045: "login", 1049: "database"}.get(code) or ("down" if client_side else "")
        return _server_failure("MySQL", "BDML_MYSQL__DSN", problem, str(text))
    if isinstance(e, psycopg.OperationalError):
        text = str(e).split("\n")[0]
        problem = next((name for name, pattern in _PG_PROBLEMS if re.search(pattern, text)), "")
        return _server_failure("PostgreSQL", "BDML_REDSHIFT__DSN", problem, text)
    return None


def _server_failure(kind: str, env: str, problem: str, text: str) -> Failure:
    where = f"{kind} at {_server_address(env)}"
    if problem == "login":
        return Failure(f"{where} refused the login: {text}", f"check the user and password in {env}")
    if problem == "database":
        return Failure(f"{where}: {text}", f"`bdml up` creates the local database; or fix it in {env}")
    if problem == "down":
        return Failure(f"{where} does not answer", f"run `bdml up` (embedded) or check {env}")
    return Failure(f"{where}: {text}", f"check the server and {env}")


def _duckdb(e: BaseException) -> Failure | None:
    import duckdb

    if not isinstance(e, duckdb.IOException):
        return None
    text = str(e)
    if "NoSuchBucket" in text and (bucket := re.search(r"s3a?://([^/'\s]+)", text)):
        return _missing_bucket(bucket.group(1))
    if (down := re.search(r"Could not connect to server.*?(https?://[^/'\s]+)", text)) is not None:
        return _endpoint_down(down.group(1))
    if re.search(r"\(HTTP 40[13]\b", text):
        return _bad_credentials("HTTP " + text.split("(HTTP ", 1)[1][:3])
    return None


def _port(e: BaseException) -> Failure | None:
    if not (isinstance(e, OSError) and e.errno == errno.EADDRINUSE):
        return None
    # socket.create_server names the address in its message: "… bind on address ('127.0.0.1', 5000))"
    found = re.search(r"address \('?([^',]*)'?, (\d+)", str(e))
    where = f"port {found.group(2)} on {found.group(1)}" if found else "the port"
    return Failure(f"{where} is already in use", "stop what listens there, or choose another --port")


# --- the input and the project's own errors ---------------------------------------------------------


def _inside(e: BaseException, known: Known) -> Failure | None:
    from botocore.exceptions import BotoCoreError, ClientError
    from pydantic import ValidationError

    if isinstance(e, BdmlError):
        return Failure(str(e), e.hint, e.exit_code)
    for cls, code in known.items():
        if isinstance(e, cls):
            return Failure(str(e), exit_code=code)
    if isinstance(e, ValidationError):
        return _bad_setting(e)
    if isinstance(e, tomllib.TOMLDecodeError):
        return Failure(f"{_profile_file()}: not valid TOML: {e}", "fix the file's syntax", USAGE)
    if isinstance(e, OSError) and (failure := _bad_path(e)):
        return failure
    if isinstance(e, ClientError):
        error = e.response.get("Error", {})
        return Failure(f"AWS refused {e.operation_name}: {error.get('Code')}: {error.get('Message')}")
    if isinstance(e, BotoCoreError):
        return Failure(f"the AWS call failed: {e}", "check BDML_AWS__ENDPOINT_URL and BDML_AWS__REGION")
    return None


_PATH_PROBLEMS = (
    (FileNotFoundError, "does not exist", "check the path"),
    (PermissionError, "is not accessible to this user", "fix its permissions or choose another path"),
    (IsADirectoryError, "is a folder, not a file", "name a file"),
    (NotADirectoryError, "has a file where a folder should be", "name a folder"),
)


def _bad_path(e: OSError) -> Failure | None:
    for cls, problem, todo in _PATH_PROBLEMS:
        if isinstance(e, cls):
            if e.filename is None:  # raised with a message of its own
                return Failure(str(e), exit_code=USAGE)
            return Failure(f"{e.filename}: {problem}", todo, USAGE)
    return None


def _bad_setting(e: Any) -> Failure | None:
    """A settings model refused a value: name it as the dotted setting, its env var and profile entry."""
    section = _settings_sections().get(e.title)
    if section is None:
        return None  # not a setting: some other data was invalid
    errors = e.errors()
    first = errors[0]
    loc = (*section, *(str(p) for p in first["loc"]))
    msg = first["msg"][:1].lower() + first["msg"][1:]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    value = first.get("input")
    shown = f" = {value!r}" if isinstance(value, str | int | float | bool) else ""
    message = f"setting {'.'.join(loc) or 'settings'}{shown}: {msg}{more}"
    if not loc:
        return Failure(
            message, f"check the settings in the environment (BDML_*) and {_profile_file()}", USAGE
        )
    env = "BDML_" + "__".join(p.upper() for p in loc)
    if env in os.environ:
        hint = f"fix the environment variable {env}"
    else:
        table = f"[{'.'.join(loc[:-1])}]" if len(loc) > 1 else "the top"
        hint = f"fix {loc[-1]} under {table} in {_profile_file()}, or set {env}"
    return Failure(message, hint, USAGE)


def _settings_sections() -> dict[str, tuple[str, ...]]:
    """Each settings model's class name → where it sits (HqlSettings → ("hql",))."""
    from pydantic import BaseModel

    from services.settings import Settings, StreamingSettings

    found: dict[str, tuple[str, ...]] = {}

    def walk(model: type[BaseModel], at: tuple[str, ...]) -> None:
        found.setdefault(model.__name__, at)
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(kind, (*at, name))

    walk(Settings, ())
    walk(StreamingSettings, ("stream",))
    return found


# --- what the settings say, when they can be read -----------------------------------------------------


def _setting(read: Any, default: str) -> str:
    # The failure may be the settings themselves: never fail while describing one.
    try:
        from services.settings import get_settings

        return str(read(get_settings()) or default)
    except (SystemExit, Exception):  # a bad BDML_PROFILE exits
        return default


def _endpoint(url: str | None = None) -> str:
    url = url or _setting(lambda s: s.aws.endpoint_url, "")
    if not url:
        return "AWS"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _server_address(env: str) -> str:
    from services.dsn import parse_dsn

    field, scheme = ("mysql", "mysql") if "MYSQL" in env else ("redshift", "postgresql")
    return _setting(lambda s: parse_dsn(getattr(s, field).dsn, scheme).address, f"the server in {env}")


def _profile_file() -> str:
    from services.settings import profile_file

    try:
        return str(profile_file())
    except (SystemExit, Exception):  # BDML_PROFILE itself may be the bad setting
        return "the profile file"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, outermost first."""
    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and all(e is not s for s in seen):
        seen.append(e)
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return seen


def _print(failure: Failure) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    err.print(Text.assemble(("✗ ", "bold red"), failure.message))
    if failure.hint:
        err.print(Text(f"  {failure.hint}"))
