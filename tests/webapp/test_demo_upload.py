"""`bdml demo`'s last step: a real upload through the web page, either to an app it starts itself or to
one running elsewhere (the compose profile's webapp container, `web.url`)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.ml.fixtures import deployed_api, draw_penguin, model_server, png_bytes, tiny_model  # noqa: F401
from webapp import create_app
from webapp.demo import upload_through_page

pytestmark = pytest.mark.integration


def test_the_demo_uploads_through_a_web_app_running_elsewhere(deployed_api: str, tmp_path: Path) -> None:  # noqa: F811
    image = tmp_path / "penguin.png"
    image.write_bytes(png_bytes(draw_penguin(random.Random(5))))
    app = create_app({"API_URL": deployed_api, "DEPLOYMENT_FILE": str(tmp_path / "none.json")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = upload_through_page(image, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert answer["image"] == "penguin.png" and answer["label"] != "(none)"
    assert {"penguin", "notpenguin"} <= answer.keys()
    assert abs(sum(float(answer[c]) for c in ("penguin", "notpenguin")) - 1.0) < 0.01
