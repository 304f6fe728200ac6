"""Local model server with SageMaker's two HTTP faces:

- the inference container contract: ``GET /ping``, ``POST /invocations``;
- the runtime API: ``POST /endpoints/{name}/invocations``, so an unchanged boto3 ``sagemaker-runtime``
  client with ``endpoint_url`` pointing here gets real answers and real error types. Like AWS, the runtime
  path reports a container's own 4xx/5xx as ``ModelError`` (424) carrying ``OriginalStatusCode`` and
  ``OriginalMessage``, and an unknown endpoint as ``ValidationError``.

A WSGI app under gunicorn (``services.wsgi``): timeouts, a bounded number of threads, idle connections
closed, malformed requests refused by the server; the body is capped at the endpoint's 6 MB here."""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ml.serving import inference
from ml.serving.inference import MAX_PAYLOAD_BYTES, BadImage, Model, PayloadTooLarge, UnsupportedContentType
from services.wsgi import ServerLimits, serve

log = logging.getLogger("bdml.model-server")
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
RUNTIME_PATH = re.compile(r"^/endpoints/(?P<name>[A-Za-z0-9-]{1,63})/invocations$")


class ContainerError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def invoke(model: Model, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """The container's /invocations logic: handler functions in SageMaker's order, errors as statuses."""
    try:
        data = inference.input_fn(body, content_type)
        prediction = inference.predict_fn(data, model)
        return inference.output_fn(prediction, accept)
    except UnsupportedContentType as exc:
        raise ContainerError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
    except PayloadTooLarge as exc:
        raise ContainerError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(exc)) from exc
    except BadImage as exc:
        raise ContainerError(HTTPStatus.BAD_REQUEST, str(exc)) from exc


Headers = list[tuple[str, str]]
Response = tuple[int, bytes, str, dict[str, str]]


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return status, json.dumps(payload).encode(), "application/json", headers or {}


def _aws_error(status: int, code: str, message: str, **extra: Any) -> Response:
    # botocore reads the error code from x-amzn-ErrorType and the message from the JSON body.
    return _json(status, {"__type": code, "message": message, **extra}, {"x-amzn-ErrorType": code})


def _read_body(environ: dict[str, Any]) -> tuple[bytes | None, bool]:
    """(the request body, or None when over the endpoint's limit; whether the connection may be kept).
    A moderately oversized body is read and dropped in small pieces, so the client reads our 413 rather
    than a broken pipe; a bigger one, or an unbounded chunked one, is left unread and the connection
    closed. gunicorn has already refused a malformed Content-Length and decoded chunked bodies."""
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or -1)
    if 0 <= length <= MAX_PAYLOAD_BYTES:
        return bytes(stream.read(length)), True
    if MAX_PAYLOAD_BYTES < length <= DRAIN_LIMIT_BYTES:
        while stream.read(1 << 20):
            pass
        return None, True
    if length > DRAIN_LIMIT_BYTES:
        return None, False
    data = bytes(stream.read(MAX_PAYLOAD_BYTES + 1))  # chunked: read at most the limit
    return (data, True) if len(data) <= MAX_PAYLOAD_BYTES else (None, False)


def make_app(model: Model, endpoint: str) -> Any:
    """The WSGI app: ``GET /ping``, ``POST /invocations`` and the runtime API's
    ``POST /endpoints/{name}/invocations``."""

    def respond(environ: dict[str, Any]) -> Response:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method == "GET":
            if path == "/ping":
                return 200, b"", "text/plain", {}
            return _json(404, {"message": "no such path; try GET /ping or POST /invocations"})
        if method != "POST":
            return _json(405, {"message": "use GET /ping or POST /invocations"})
        runtime = RUNTIME_PATH.match(path)
        if path != "/invocations" and runtime is None:
            return _json(404, {"message": "no such path; try POST /invocations"})
        if runtime and runtime.group("name") != endpoint:
            return _aws_error(400, "ValidationError", f"Endpoint {runtime.group('name')} not found.")
        started = time.perf_counter()
        body, keep = _read_body(environ)
        close = {} if keep else {"Connection": "close"}  # an unread body must not be parsed as a request
        try:
            if body is None:
                raise ContainerError(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"payload over {MAX_PAYLOAD_BYTES:,} bytes (the real-time endpoint limit)",
                )
            out, content_type = invoke(
                model, body, environ.get("CONTENT_TYPE", ""), environ.get("HTTP_ACCEPT", "application/json")
            )
        except ContainerError as exc:
            if runtime:
                status, payload, kind, headers = _aws_error(
                    424,
                    "ModelError",
                    f'Received client error ({exc.status.value}) from primary with message "{exc.message}".',
                    OriginalStatusCode=exc.status.value,
                    OriginalMessage=exc.message,
                )
                return status, payload, kind, {**headers, **close}
            return _json(exc.status.value, {"message": exc.message}, close)
        except Exception:  # a bug in the handler: 500, logged with its traceback, never a silent 200
            log.exception("inference failed")
            if runtime:
                return _aws_error(
                    424,
                    "ModelError",
                    "Received server error (500) from primary.",
                    OriginalStatusCode=500,
                    OriginalMessage="internal error",
                )
            return _json(500, {"message": "internal error"})
        headers = {"x-Amzn-Invoked-Production-Variant": "AllTraffic"} if runtime else {}
        headers["X-Inference-Ms"] = f"{(time.perf_counter() - started) * 1000:.2f}"
        return 200, out, content_type, headers

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        status, body, content_type, extra = respond(environ)
        headers: Headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        headers += list(extra.items())
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="SageMaker-contract model server (ONNX Runtime).")
    p.add_argument("--model-dir", type=Path, required=True, help="unpacked model.tar.gz")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--endpoint-name", default="penguin-classifier")
    p.add_argument("--threads", type=int, default=4, help="requests served at once (the rest queue)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = make_app(inference.model_fn(args.model_dir), args.endpoint_name)
    log.info(
        "serving %s as endpoint %r on http://%s:%d", args.model_dir, args.endpoint_name, args.host, args.port
    )
    serve(app, args.host, args.port, ServerLimits(threads=args.threads), name="bdml-model-server")


if __name__ == "__main__":
    main()
