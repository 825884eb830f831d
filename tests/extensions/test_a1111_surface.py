"""A1111 module names extensions reach for beyond the common ones: `modules.hashes`, `modules.cache`,
`scripts.script_callbacks`, script modules in sys.modules (Gradio needs their file), and A1111's flag defaults."""
from __future__ import annotations

import inspect
import json
import os

import pytest

from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app


def test_hashes_and_cache_share_cache_json(bound, tmp_path):
    from modules import cache, hashes

    f = tmp_path / "net.safetensors"
    header = b'{"a":1}'
    f.write_bytes(len(header).to_bytes(8, "little") + header + b"tensor-bytes")
    import hashlib

    assert hashes.sha256(str(f), "lora/net") == hashlib.sha256(f.read_bytes()).hexdigest()
    assert hashes.sha256(str(f), "lora/net", use_addnet_hash=True) == hashlib.sha256(b"tensor-bytes").hexdigest()
    data = json.loads((tmp_path / "data" / "cache.json").read_text())
    assert data["hashes"]["lora/net"]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert "lora/net" in data["hashes-addnet"]
    assert hashes.sha256_from_cache(str(f), "lora/net") is not None
    os.utime(f, (f.stat().st_mtime + 10,) * 2)  # newer file: the cached value no longer counts
    assert hashes.sha256_from_cache(str(f), "lora/net") is None

    calls = []
    assert cache.cached_data_for_file("meta", "x", str(f), lambda: calls.append(1) or {"v": 1}) == {"v": 1}
    assert cache.cached_data_for_file("meta", "x", str(f), lambda: calls.append(1) or {"v": 2}) == {"v": 1}
    assert calls == [1]
    assert cache.cached_data_for_file("meta", "y", str(f), lambda: None) is None
    cache.dump_cache()
    assert set(json.loads((tmp_path / "data" / "cache.json").read_text())) >= {"hashes", "hashes-addnet", "meta"}


def test_no_hashing_flag(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui", "--no-hashing")
    start(app, [])
    try:
        from modules import hashes

        f = tmp_path / "x.bin"
        f.write_bytes(b"x")
        assert hashes.sha256(str(f), "x") is None
    finally:
        app.jobs.close()
        stop(app)


def test_scripts_exposes_the_modules_a1111_scripts_imports(bound):
    from modules import script_callbacks, scripts, shared

    assert scripts.script_callbacks is script_callbacks
    assert scripts.shared is shared
    seen = []
    scripts.script_callbacks.on_before_ui(lambda: seen.append(1))
    script_callbacks.before_ui_callback()
    assert seen == [1]
    with pytest.raises(AttributeError):
        _ = scripts.no_such_thing


def test_cmd_opts_have_a1111_defaults(bound, tmp_path):
    from modules import shared

    data, models = tmp_path / "data", tmp_path / "data" / "models"
    assert shared.cmd_opts.embeddings_dir == str(data / "embeddings")
    assert shared.cmd_opts.lora_dir == str(models / "Lora")
    assert shared.cmd_opts.hypernetwork_dir == str(models / "hypernetworks")
    assert shared.cmd_opts.codeformer_models_path == str(models / "Codeformer")
    assert shared.cmd_opts.gfpgan_models_path == str(models / "GFPGAN")
    assert shared.cmd_opts.esrgan_models_path == str(models / "ESRGAN")
    assert os.path.samefile(shared.cmd_opts.data_dir, data)
    assert shared.cmd_opts.ckpt_dir is None and shared.cmd_opts.vae_dir is None  # A1111's defaults too
    assert shared.cmd_opts.xformers is False and shared.cmd_opts.medvram_sdxl is False
    assert shared.cmd_opts.precision == "autocast" and shared.cmd_opts.max_batch_count == 16
    assert shared.cmd_opts.nowebui is True  # a flag given wins
    # a name that is no flag at all is an AttributeError, as on argparse's namespace: ControlNet reads
    # getattr(cmd_opts, "controlnet_loglevel", "INFO") before its preload.py has added the flag
    assert getattr(shared.cmd_opts, "controlnet_loglevel", "INFO") == "INFO"
    assert shared.cmd_opts.loglevel is None and shared.cmd_opts.ckpt is None  # A1111 flags without a default
    # A1111 flags Easel parses itself (modules/cli_a1111.py) read A1111's default when not given
    assert shared.cmd_opts.gradio_queue is True and shared.cmd_opts.sub_quad_q_chunk_size == 1024
    assert shared.cmd_opts.theme is None and shared.cmd_opts.styles_file == []


def test_given_folder_flags_win(tmp_path, tiny_checkpoint):
    lora = tmp_path / "my-loras"
    lora.mkdir()
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui", "--lora-dir", str(lora))
    start(app, [])
    try:
        from modules import shared

        assert shared.cmd_opts.lora_dir == str(lora)
    finally:
        app.jobs.close()
        stop(app)


SCRIPT_WITH_COMPONENT = '''
import gradio as gr
from modules import scripts


class ToolBox(gr.Textbox):
    def get_block_name(self):
        return "textbox"


class Boxed(scripts.Script):
    def title(self):
        return "Boxed"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        return [ToolBox(label="x")]
'''


def test_script_modules_are_in_sys_modules(bound, tmp_path):
    import sys

    import gradio as gr

    from modules.extensions.compat import scripts
    from modules.extensions.compat.loader import ExtensionFolder, load_extension_scripts
    from modules.extensions.compat.reporting import FAILURES

    for name in ("ext-a", "ext-b"):  # two extensions with a script file of the same name
        (tmp_path / name / "scripts").mkdir(parents=True)
        (tmp_path / name / "scripts" / "boxed.py").write_text(SCRIPT_WITH_COMPONENT)
    FAILURES.clear()
    load_extension_scripts([ExtensionFolder(n, tmp_path / n) for n in ("ext-a", "ext-b")])
    assert FAILURES.failures == []
    modules = [d.module for d in scripts.scripts_data]
    assert len({m.__name__ for m in modules}) == 2
    for module in modules:
        assert sys.modules[module.__name__] is module
        assert inspect.getfile(module.ToolBox) == module.__file__
        with gr.Blocks():
            module.ToolBox(label="inside Blocks")  # Gradio asks for the class's file here


def test_p_tiling_is_the_request_field():
    from modules.extensions.compat import processing
    from modules.pipeline.request import GenerationRequest

    p = processing.from_request("txt2img", GenerationRequest(prompt="x", tiling=True))
    assert p.tiling is True and p.to_request().tiling is True
