"""Firehose S3 object keys, as the service builds them.

- ``Prefix`` and ``ErrorOutputPrefix`` may hold ``!{timestamp:<Java date pattern>}``,
  ``!{firehose:random-string}`` and (error prefix only) ``!{firehose:error-output-type}``.
- A prefix without expressions gets the default ``YYYY/MM/dd/HH/`` (UTC) appended; an error prefix without
  expressions gets ``<error-output-type>/YYYY/MM/dd/HH/``.
- The timestamp is the arrival time of the oldest record in the object.
- The object name is ``<DeliveryStreamName>-<version>-<yyyy-MM-dd-HH-mm-ss>-<random>``; our random part is
  derived from the batch id, so delivering a batch again writes the same key (idempotent retries).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
# Java DateTimeFormatter letters Firehose documents for prefixes, longest first.
_JAVA = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))
ERROR_OUTPUT_TYPES = frozenset({"processing-failed", "format-conversion-failed", "http-endpoint-failed"})
DELIVERY_STREAM_VERSION = 1


class PrefixError(ValueError):
    """A prefix Firehose would refuse; the message says which expression and why."""


def _java_date(pattern: str, moment: datetime) -> str:
    out = pattern
    for java, strf in _JAVA:
        out = out.replace(java, moment.strftime(strf))
    if re.search(r"[A-Za-z]", out):
        raise PrefixError(f"unsupported date pattern in !{{timestamp:{pattern}}}; use yyyy MM dd HH mm ss")
    return out


def validate(prefix: str, error_prefix: str) -> None:
    for name, text, is_error in (("Prefix", prefix, False), ("ErrorOutputPrefix", error_prefix, True)):
        for namespace, value in EXPRESSION.findall(text):
            if namespace == "timestamp":
                _java_date(value, datetime(2000, 1, 1, tzinfo=UTC))
            elif namespace != "firehose" or value not in ("random-string", "error-output-type"):
                raise PrefixError(f"{name}: unknown expression !{{{namespace}:{value}}}")
            elif value == "error-output-type" and not is_error:
                raise PrefixError(
                    f"{name}: !{{firehose:error-output-type}} is allowed in ErrorOutputPrefix only"
                )
    if EXPRESSION.search(prefix) and not error_prefix:
        raise PrefixError("a Prefix with expressions needs an ErrorOutputPrefix")
    if EXPRESSION.search(error_prefix) and "!{firehose:error-output-type}" not in error_prefix:
        raise PrefixError("an ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}")


def evaluate(prefix: str, moment: datetime, random_string: str, error_output_type: str | None = None) -> str:
    """The key prefix for an object whose oldest record arrived at ``moment``."""
    moment = moment.astimezone(UTC)
    if error_output_type is not None and error_output_type not in ERROR_OUTPUT_TYPES:
        raise PrefixError(
            f"error output type {error_output_type!r} is not one of {sorted(ERROR_OUTPUT_TYPES)}"
        )
    if not EXPRESSION.search(prefix):
        tail = moment.strftime("%Y/%m/%d/%H/")
        return prefix + (f"{error_output_type}/" if error_output_type else "") + tail

    def replace(match: re.Match[str]) -> str:
        namespace, value = match.groups()
        if namespace == "timestamp":
            return _java_date(value, moment)
        if value == "random-string":
            return random_string
        if error_output_type is None:
            raise PrefixError("!{firehose:error-output-type} outside the error prefix")
        return error_output_type

    return EXPRESSION.sub(replace, prefix)


def object_name(stream: str, moment: datetime, random_part: str) -> str:
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")
    return f"{stream}-{DELIVERY_STREAM_VERSION}-{stamp}-{random_part}"
