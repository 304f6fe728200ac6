"""The Flask app: the page and the JSON API, against the real API Gateway → Lambda → model server chain
for real answers, and its own checks for bad uploads (which never reach the API)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from PIL import Image

from tests.ml.fixtures import deployed_api, draw_penguin, model_server, png_bytes, tiny_model  # noqa: F401
from webapp import create_app

PNG = png_bytes(draw_penguin(random.Random(41)))
TRUNCATED = PNG[: len(PNG) // 2]


def _client(api_url: str | None, tmp_path: Path) -> FlaskClient:
    app = create_app({"API_URL": api_url, "DEPLOYMENT_FILE": str(tmp_path / "none.json"), "TESTING": True})
    return app.test_client()


def _big_png() -> bytes:
    noise = Image.frombytes("RGB", (2600, 2600), random.Random(42).randbytes(2600 * 2600 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert len(out.getvalue()) > 19 * 1024 * 1024  # the 20 MB case
    return out.getvalue()


BAD = [
    (b"plain text, not a picture", 415, "not an image"),
    (TRUNCATED, 400, "corrupt or truncated"),
    (b"", 400, "empty"),
]


@pytest.mark.unit
@pytest.mark.parametrize(("data", "status", "words"), BAD, ids=["text", "truncated-png", "empty"])
def test_json_api_refuses_bad_uploads(tmp_path: Path, data: bytes, status: int, words: str) -> None:
    response = _client("http://127.0.0.1:9/unused", tmp_path).post(
        "/api/classify", data=data, content_type="image/png"
    )
    assert response.status_code == status and words in response.get_json()["error"]


@pytest.mark.unit
@pytest.mark.parametrize(("data", "status", "words"), BAD, ids=["text", "truncated-png", "empty"])
def test_page_shows_errors_for_bad_uploads(tmp_path: Path, data: bytes, status: int, words: str) -> None:
    response = _client("http://127.0.0.1:9/unused", tmp_path).post(
        "/", data={"image": (io.BytesIO(data), "../../etc/passwd.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == status
    assert words in response.get_data(as_text=True)


@pytest.mark.unit
def test_20_mb_upload_is_a_413_on_page_and_api(tmp_path: Path) -> None:
    client = _client("http://127.0.0.1:9/unused", tmp_path)
    big = _big_png()
    api = client.post("/api/classify", data=big, content_type="image/png")
    assert api.status_code == 413 and "limit" in api.get_json()["error"]
    page = client.post("/", data={"image": (io.BytesIO(big), "big.png")}, content_type="multipart/form-data")
    assert page.status_code == 413 and "limit" in page.get_data(as_text=True)


@pytest.mark.unit
def test_no_api_configured_is_a_clear_503(tmp_path: Path) -> None:
    response = _client(None, tmp_path).post("/api/classify", data=PNG, content_type="image/png")
    assert response.status_code == 503 and "deploy-local" in response.get_json()["error"]


@pytest.mark.unit
def test_unreachable_api_is_a_502(tmp_path: Path) -> None:
    response = _client("http://127.0.0.1:9/classify", tmp_path).post(
        "/api/classify", data=PNG, content_type="image/png"
    )
    assert response.status_code == 502 and "unreachable" in response.get_json()["error"]
    assert "127.0.0.1" not in response.get_json()["error"], "internal addresses stay in the server's log"


@pytest.mark.unit
def test_healthz_says_whether_a_classifier_is_configured_not_where(tmp_path: Path) -> None:
    body = _client("http://10.1.2.3/classify?key=secret", tmp_path).get("/healthz").get_json()
    assert body == {"ok": True, "classifier_configured": True}


@pytest.mark.integration
def test_page_upload_shows_image_label_and_bars(deployed_api: str, tmp_path: Path) -> None:  # noqa: F811
    response = _client(deployed_api, tmp_path).post(
        "/", data={"image": (io.BytesIO(PNG), "my penguin.png")}, content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="label" data-class="penguin">Penguin<' in html  # words for people, the id for machines
    assert ">Not a penguin<" in html and ">notpenguin<" not in html
    assert 'src="data:image/jpeg;base64,' in html  # shown from memory (RGB → JPEG): nothing on disk
    assert html.count('data-probability="') == 2


@pytest.mark.integration
def test_json_api_answers_label_and_probabilities(deployed_api: str, tmp_path: Path) -> None:  # noqa: F811
    response = _client(deployed_api, tmp_path).post("/api/classify", data=PNG, content_type="image/png")
    body = response.get_json()
    assert response.status_code == 200 and body["label"] == "penguin"
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-4


@pytest.mark.unit
def test_no_upload_touches_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    client = _client("http://127.0.0.1:9/unused", tmp_path)
    client.post("/", data={"image": (io.BytesIO(PNG), "../evil.png")}, content_type="multipart/form-data")
    assert list(tmp_path.iterdir()) == []
