"""Calls the classify API (API Gateway → Lambda → endpoint) with the image bytes."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

log = logging.getLogger(__name__)


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Classification:
    label: str
    probabilities: dict[str, float]


def classify(
    api_url: str, image: bytes, content_type: str, timeout: float = 30.0, api_key: str | None = None
) -> Classification:
    headers = {"Content-Type": content_type, **({"x-api-key": api_key} if api_key else {})}
    request = urllib.request.Request(api_url, data=image, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        # The API's 4xx are the user's (bad image); its 5xx mean the classifier is down: 502 to our caller.
        raise ApiError(
            exc.code if 400 <= exc.code < 500 else 502, f"The classifier said: {message}"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        log.warning("classifier API unreachable: %s (%s)", api_url, exc)  # the operator's log, not the user
        raise ApiError(502, "The classifier API is unreachable; try again later.") from None
    try:
        return Classification(str(body["label"]), {k: float(v) for k, v in body["probabilities"].items()})
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ApiError(502, "The classifier API answered something that is not a classification.") from None
