"""For `bdml demo`: start the web app, upload a real held-out image through its page as a browser would
(multipart form), and return what the page answered — proof that the whole chain serves a person."""

from __future__ import annotations

import re
import threading
import urllib.request
import uuid
from pathlib import Path

from werkzeug.serving import make_server

from webapp.app import create_app


def upload_through_page(image: Path, url: str | None = None) -> dict[str, str]:
    """POST ``image`` to the page at ``url``, or to the app started here for the upload when None."""
    if url is not None:
        return _answer(image, _post(image, url.rstrip("/") + "/"))
    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        html = _post(image, f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
    return _answer(image, html)


def _post(image: Path, url: str) -> str:
    """The page's answer to a browser's multipart form upload of ``image``."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="upload"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + image.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(response.read().decode())


def _answer(image: Path, html: str) -> dict[str, str]:
    label = re.search(r'id="label"[^>]*>([^<]+)<', html)
    bars = dict(re.findall(r'data-class="([^"]+)" data-probability="([^"]+)"', html))
    return {"image": image.name, "label": label.group(1) if label else "(none)", **bars}


def demo_upload() -> dict[str, str]:
    """Upload one held-out penguin photo-or-drawing from the prepared test channel (for `bdml demo`)."""
    from ml.config import MlPaths
    from services.settings import get_settings

    folder = MlPaths(get_settings()).prepared / "test" / "penguin"
    images = sorted(folder.glob("*.jpg"))
    if not images:
        raise FileNotFoundError(f"no held-out images in {folder}: run `bdml ml run` first")
    return upload_through_page(images[0], get_settings().web.url)
