"""The Flask app factory.

Routes: ``GET /`` the upload page; ``POST /`` a form upload (field ``image``) → the page with the picture,
the label and a probability bar chart; ``POST /api/classify`` the same as JSON (raw image body or the
``image`` form field); ``GET /healthz``. The API URL comes from config ``API_URL``, else the settings
(``BDML_WEB__API_URL``, or what ``bdml deploy aws apply`` recorded), else the file ``bdml ml deploy-local``
writes; ``API_KEY`` (settings ``web.api_key``) is sent as ``x-api-key`` when set."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.api_client import ApiError, Classification, classify
from webapp.images import MAX_UPLOAD_BYTES, Upload, UploadError, check

# What the page says for each class id; the JSON API keeps the ids themselves.
LABELS = {"penguin": "Penguin", "notpenguin": "Not a penguin"}
# Multipart framing adds a little over the file itself; the file's own size is checked exactly later.
FORM_OVERHEAD = 64 * 1024


def _api_url(app: Flask) -> str | None:
    configured = app.config.get("API_URL")
    if configured:
        return str(configured)
    state = app.config.get("DEPLOYMENT_FILE")
    if state and Path(state).exists():
        return str(json.loads(Path(state).read_text())["api_url"])
    return None


def _read_upload() -> bytes:
    if request.files:
        file = request.files.get("image")
        if file is None:
            raise UploadError(400, "No file in the form: the field must be called 'image'.")
        return file.read(MAX_UPLOAD_BYTES + 1)
    return request.get_data(cache=False)


def _classify(app: Flask, data: bytes) -> tuple[Upload, Classification]:
    upload = check(data)
    url = _api_url(app)
    if not url:
        raise ApiError(
            503, "No classifier API is configured: run `bdml ml deploy-local` or set BDML_WEB__API_URL."
        )
    return upload, classify(url, upload.preview, upload.preview_type, api_key=app.config.get("API_KEY"))


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    from ml.config import MlPaths
    from services.settings import get_settings

    settings = get_settings()
    key = settings.web.api_key
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES + FORM_OVERHEAD,
        API_URL=settings.web.api_url,
        API_KEY=key.get_secret_value() if key else None,
        DEPLOYMENT_FILE=None,
    )
    if config:
        app.config.update(config)
    if not app.config["DEPLOYMENT_FILE"]:
        app.config["DEPLOYMENT_FILE"] = str(MlPaths(settings).state)

    app.add_template_filter(lambda name: LABELS.get(name, name), "human")

    def page(status: int, **context: Any) -> tuple[str, int]:
        return render_template("index.html", limit_mb=MAX_UPLOAD_BYTES // (1024 * 1024), **context), status

    @app.get("/")
    def index() -> tuple[str, int]:
        return page(200)

    @app.post("/")
    def upload_form() -> tuple[str, int]:
        try:
            upload, result = _classify(app, _read_upload())
        except (UploadError, ApiError) as exc:
            return page(exc.status, error=exc.message)
        preview = f"data:{upload.preview_type};base64,{base64.b64encode(upload.preview).decode()}"
        bars = sorted(result.probabilities.items(), key=lambda kv: -kv[1])
        return page(200, result=result, preview=preview, bars=bars, upload=upload)

    @app.post("/api/classify")
    def api_classify() -> tuple[Response, int]:
        try:
            _, result = _classify(app, _read_upload())
        except (UploadError, ApiError) as exc:
            return jsonify(error=exc.message), exc.status
        return jsonify(label=result.label, probabilities=result.probabilities), 200

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        # Whether a classifier is configured, never where: internal URLs (and any key in them) stay here.
        return jsonify(ok=True, classifier_configured=_api_url(app) is not None), 200

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> tuple[Response | str, int]:
        message = f"The upload is over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit."
        if request.path.startswith("/api/"):
            return jsonify(error=message), 413
        return page(413, error=message)

    return app
