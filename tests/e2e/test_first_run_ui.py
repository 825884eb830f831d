"""First run with the shipped built-in model (its card: models/Stable-diffusion/easel-builtin.md): a fresh
data dir with no checkpoint of the user's own, the
page says the built-in model is in use, and the first Generate with the page's defaults draws what the prompt says."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from modules.paths import INSTALL_DIR
from modules.training.analyzer import analyze
from tests.e2e.conftest import Server, open_page
from tests.e2e.helpers import newest_png

BUILTIN = INSTALL_DIR / "models" / "Stable-diffusion" / "easel-builtin.safetensors"


@pytest.fixture(scope="module")
def first_run_server(tmp_path_factory):
    if not BUILTIN.is_file():
        pytest.skip("the built-in model is not in this checkout")
    srv = Server(tmp_path_factory.mktemp("first-run"))  # nothing in it: no models, no settings, no extensions
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.slow  # loads the real built-in model (28 MB) in a second server
def test_first_generate_draws_the_prompt_with_the_builtin_model(browser, first_run_server):
    context, page, guard = open_page(browser, first_run_server)
    try:
        page.set_default_timeout(60_000)
        assert "built-in model easel-builtin" in page.locator("#model_notice").inner_text()
        page.locator("#txt2img_prompt textarea").fill("a large red circle in the centre on a white background")
        page.locator("#txt2img_seed input").fill("7")
        page.locator("#txt2img_seed input").press("Tab")
        page.locator("#txt2img_generate").click()
        page.wait_for_function("() => document.getElementById('html_info_txt2img').innerText.includes('Seed: 7')",
                               timeout=120_000)
        info = page.locator("#html_info_txt2img").inner_text()
        assert "Size: 64x64" in info and "Model: easel-builtin" in info  # the model's native size by default
        path = newest_png(first_run_server.data_dir / "outputs" / "txt2img-images")
        with Image.open(path) as image:
            reading = analyze(np.asarray(image.convert("RGB")))
        # colour and background are right for every held-out prompt in the bench; shape type for 80 %
        assert (reading.colour, reading.background) == ("red", "white") and reading.shape is not None, reading
    finally:
        context.close()
    assert not guard.external, guard.external
