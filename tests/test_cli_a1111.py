"""A1111 1.10.1's command-line flags start Easel: every one of them parses; each acts, is said at start with why
it changes nothing, or stops the start naming it (modules/cli_a1111.py)."""
from __future__ import annotations

import logging

import pytest

import webui
from modules import cli, cli_a1111

# every flag of A1111 1.10.1's modules/cmd_args.py that takes no value, and those that do (with a sample value)
A1111_SWITCHES = ["--update-all-extensions", "--skip-python-version-check", "--reinstall-xformers",
                  "--reinstall-torch", "--update-check", "--test-server", "--log-startup",
                  "--skip-prepare-environment", "--skip-install", "--do-not-download-clip", "--no-half",
                  "--no-half-vae", "--no-progressbar-hiding", "--medvram", "--medvram-sdxl", "--lowvram",
                  "--lowram", "--always-batch-cond-uncond", "--unload-gfpgan", "--upcast-sampling", "--share",
                  "--enable-insecure-extension-access", "--xformers", "--force-enable-xformers",
                  "--xformers-flash-attention", "--deepdanbooru", "--opt-split-attention",
                  "--opt-sub-quad-attention", "--opt-split-attention-invokeai", "--opt-split-attention-v1",
                  "--opt-sdp-attention", "--opt-sdp-no-mem-attention", "--disable-opt-split-attention",
                  "--disable-nan-check", "--use-ipex", "--disable-model-loading-ram-optimization", "--listen",
                  "--show-negative-prompt", "--gradio-debug", "--autolaunch", "--use-textbox-seed",
                  "--disable-console-progressbars", "--enable-console-prompts", "--api", "--nowebui",
                  "--ui-debug-mode", "--disable-safe-unpickle", "--disable-all-extensions",
                  "--disable-extra-extensions", "--skip-load-model-at-start", "--gradio-queue",
                  "--no-gradio-queue", "--skip-version-check", "--no-hashing", "--no-download-sd-model",
                  "--no-prompt-history", "--skip-torch-cuda-test", "--opt-channelslast"]
NOTED_ONLY = ["--skip-version-check", "--opt-split-attention", "--sub-quad-q-chunk-size", "1024", "--deepdanbooru",
              "--no-download-sd-model", "--gradio-img2img-tool", "color-sketch", "--disable-nan-check"]


def parse(*argv):
    return cli.parse_args(list(argv), env={})


def test_every_a1111_switch_parses():
    flags = parse(*A1111_SWITCHES)
    assert flags.skip_install and flags.autolaunch and flags.opt_sdp_no_mem_attention


@pytest.mark.parametrize("flag", [f.name for f in cli_a1111.FLAGS if f.kind != "switch"])
def test_every_a1111_value_flag_parses(flag):
    flags = parse(flag, "x")
    value = getattr(flags, cli_a1111.dest(flag))
    assert value == "x" or value == ["x"]


def test_noted_flags_are_said_with_why_and_start():
    flags = parse(*NOTED_ONLY)
    notes = cli_a1111.notes(flags)
    assert [n.split(":")[0] for n in notes] == ["--skip-version-check", "--opt-split-attention",
                                                "--sub-quad-q-chunk-size", "--deepdanbooru", "--gradio-img2img-tool",
                                                "--no-download-sd-model", "--disable-nan-check"]
    assert all(len(n.split(": ", 1)[1]) > 20 for n in notes)
    assert cli_a1111.apply_flags(flags, {}) is None


@pytest.mark.parametrize("argv, words", [
    (["--ngrok", "token"], "--ngrok: Easel never opens a public tunnel"),
    (["--allow-code"], "--allow-code"),
    (["--clip-models-path", "/m"], "--clip-models-path"),
    (["--loglevel", "LOUD"], "--loglevel: 'LOUD' is not a log level"),
    (["--theme", "blue"], "--theme: 'blue' is not a theme"),
    (["--filenames-max-length", "0"], "--filenames-max-length: '0' is not a whole number of 1 or more"),
    (["--styles-file", "a.csv", "--styles-file", "b.csv"], "--styles-file: Easel reads one styles file"),
    (["--styles-file", "styles*.csv"], "--styles-file"),
    (["--device-id", "gpu1"], "--device-id"),
    (["--gradio-auth-path", "/no/such/file"], "--gradio-auth-path: cannot read"),
    (["--tls-keyfile", "/k.pem"], "--tls-keyfile and --tls-certfile go together"),
    (["--tls-keyfile", "/no/k.pem", "--tls-certfile", "/no/c.pem"], "--tls-keyfile: /no/k.pem is not a file"),
])
def test_refused_and_malformed_flags_stop_the_start_naming_the_flag(argv, words):
    assert words in cli_a1111.apply_flags(parse(*argv), {})


def test_acting_flags_shape_the_process(tmp_path):
    before = logging.getLogger().level
    try:
        assert cli_a1111.apply_flags(parse("--loglevel", "debug"), {}) is None
        assert logging.getLogger().level == logging.DEBUG
    finally:
        logging.getLogger().setLevel(before)
    environ: dict = {}
    assert cli_a1111.apply_flags(parse("--device-id", "1"), environ) is None and environ["CUDA_VISIBLE_DEVICES"] == "1"
    environ = {"CUDA_VISIBLE_DEVICES": "4,6"}
    assert cli_a1111.apply_flags(parse("--device-id", "1"), environ) is None and environ["CUDA_VISIBLE_DEVICES"] == "6"
    assert "past the 2 GPUs" in cli_a1111.apply_flags(parse("--device-id", "2"), {"CUDA_VISIBLE_DEVICES": "4,6"})
    auth = tmp_path / "auth.txt"
    auth.write_text("ann:one\nbob:two,cy:three\n")
    flags = parse("--gradio-auth", "dee:four", "--gradio-auth-path", str(auth))
    assert cli_a1111.apply_flags(flags, {}) is None
    assert cli.parse_credentials(flags.gradio_auth) == [("dee", "four"), ("ann", "one"), ("bob", "two"),
                                                        ("cy", "three")]


def test_folder_and_file_flags_move_those_files(tmp_path):
    paths = webui.build_paths(parse("--data-dir", str(tmp_path / "data"), "--models-dir", str(tmp_path / "m"),
                                    "--ui-settings-file", str(tmp_path / "s.json"), "--ui-config-file",
                                    str(tmp_path / "u.json"), "--styles-file", str(tmp_path / "st.csv")))
    assert paths.checkpoint_dir == tmp_path / "m" / "Stable-diffusion" and paths.lora_dir == tmp_path / "m" / "Lora"
    assert (paths.config_json, paths.ui_config_json, paths.styles_csv) == \
        (tmp_path / "s.json", tmp_path / "u.json", tmp_path / "st.csv")
    assert paths.outputs_dir == tmp_path / "data" / "outputs"


def test_main_stops_on_a_refused_flag_and_says_why(capsys, monkeypatch, tmp_path):
    for key, value in webui.OFFLINE_ENVIRONMENT:
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COMMANDLINE_ARGS", "--skip-install --ngrok tok")
    monkeypatch.setattr("modules.allocator.configure_at_start", lambda: "unchanged")  # no mallopt in pytest
    assert webui.main(["--data-dir", str(tmp_path)]) == 2
    assert "--ngrok: Easel never opens a public tunnel" in capsys.readouterr().err


def test_theme_opens_the_page_in_that_theme():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    server = FastAPI()

    @server.get("/")
    def page():
        return {"page": True}

    webui.open_with_theme(server, "dark")
    client = TestClient(server)
    moved = client.get("/?x=1", follow_redirects=False)
    location = moved.headers["location"]
    assert moved.status_code == 307 and "__theme=dark" in location and "x=1" in location
    assert client.get("/?__theme=light", follow_redirects=False).status_code == 200


def test_api_log_writes_a_line_per_sdapi_call(caplog):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    server = FastAPI()

    @server.get("/sdapi/v1/samplers")
    def samplers():
        return []

    @server.get("/other")
    def other():
        return {}

    webui.log_api_calls(server)
    client = TestClient(server)
    with caplog.at_level("INFO", logger="easel.api"):
        client.get("/sdapi/v1/samplers")
        client.get("/other")
    lines = [r.getMessage() for r in caplog.records if r.name == "easel.api"]
    assert len(lines) == 1 and lines[0].startswith("API 200 GET /sdapi/v1/samplers ")


def test_max_batch_count_sets_the_batch_count_slider(tmp_path, tiny_checkpoint):
    from modules.ui.layout import build_ui
    from tests.pipeline.conftest import make_app

    assert "--max-batch-count" in cli_a1111.apply_flags(parse("--max-batch-count", "0"), {})
    app = make_app(tmp_path, tiny_checkpoint)
    app.flags = parse("--max-batch-count", "16")
    blocks = build_ui(app)
    assert blocks.easel_context.fields["txt2img"]["n_iter"].maximum == 16


def test_model_folder_flags_add_a_folder_searched_first(tmp_path):
    """A1111's --esrgan-models-path & co.: the upscalers and face restorers also look there (before models/)."""
    from modules.upscalers.service import Upscalers

    mine, models = tmp_path / "my-esrgan", tmp_path / "models"
    (mine / "sub").mkdir(parents=True)
    (mine / "sub" / "4x-Mine.pth").write_bytes(b"")
    (models / "ESRGAN").mkdir(parents=True)
    (models / "ESRGAN" / "2x-Theirs.pth").write_bytes(b"")
    (tmp_path / "faces").mkdir()
    (tmp_path / "faces" / "GFPGANv1.4.pth").write_bytes(b"")
    flags = parse("--esrgan-models-path", str(mine), "--gfpgan-models-path", str(tmp_path / "faces"))
    folders = cli_a1111.model_folders(flags)
    assert folders == {"ESRGAN": mine.resolve(), "GFPGAN": (tmp_path / "faces").resolve()}
    upscalers = Upscalers(models, folders=folders)
    assert [r.name for r in upscalers.list() if r.path is not None] == ["4x-Mine", "2x-Theirs"]
    faces = upscalers.faces
    assert faces.restorer_file(faces.kind("GFPGAN", "face_restoration_model")) == \
        (tmp_path / "faces" / "GFPGANv1.4.pth").resolve()
