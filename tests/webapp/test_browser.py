"""Headless Chromium (Debian's `chromium`, driven by Playwright with the system binary) uploads an image
to the running web app and reads the label and the chart that the whole chain produced."""

from __future__ import annotations

import random
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ml.fixtures import deployed_api, draw_penguin, model_server, tiny_model  # noqa: F401
from webapp import create_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def web_url(deployed_api: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    from werkzeug.serving import make_server

    app = create_app({"API_URL": deployed_api, "DEPLOYMENT_FILE": str(tmp_path / "none.json")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_upload_in_headless_chromium(web_url: str, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    picture = tmp_path / "penguin.png"
    draw_penguin(random.Random(51)).save(picture)
    text_file = tmp_path / "notes.png"
    text_file.write_text("not really a png")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
        )
        try:
            page = browser.new_page()
            page.goto(web_url)
            page.set_input_files("#image", str(picture))
            page.click("#submit")
            page.wait_for_selector("#result", timeout=30_000)
            assert page.inner_text("#label") == "Penguin"
            assert page.get_attribute("#label", "data-class") == "penguin"
            bars = page.locator(".bars li")
            assert bars.count() == 2
            assert page.locator("#preview").evaluate("img => img.naturalWidth") > 0
            page.screenshot(path=str(tmp_path / "result.png"))

            page.set_input_files("#image", str(text_file))
            page.click("#submit")
            assert "not an image" in page.inner_text("#error")
        finally:
            browser.close()
