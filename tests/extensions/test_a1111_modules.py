"""Every module name of A1111 1.10.1's `modules/` imports once extensions are loaded, and the names real
extensions use from them work (a view onto Easel, or A1111's behaviour where a view makes no sense); a module with
no counterpart in Easel imports and says why on any attribute read."""
from __future__ import annotations

import importlib
import pickle

import pytest
import torch
from PIL import Image

from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app

# `git ls-tree -r --name-only HEAD modules/` of A1111 v1.10.1, as module names (without "modules.")
A1111_MODULES = (
    'api.api', 'api.models', 'cache', 'call_queue', 'cmd_args', 'codeformer_model', 'config_states', 'dat_model',
    'deepbooru', 'deepbooru_model', 'devices', 'errors', 'esrgan_model', 'extensions', 'extra_networks',
    'extra_networks_hypernet', 'extras', 'face_restoration', 'face_restoration_utils', 'fifo_lock', 'gfpgan_model',
    'gitpython_hack', 'gradio_extensons', 'hashes', 'hat_model', 'hypernetworks.hypernetwork', 'hypernetworks.ui',
    'images', 'img2img', 'import_hook', 'infotext_utils', 'infotext_versions', 'initialize', 'initialize_util',
    'interrogate', 'launch_utils', 'localization', 'logging_config', 'lowvram', 'mac_specific', 'masking', 'memmon',
    'modelloader', 'models.diffusion.ddpm_edit', 'models.diffusion.uni_pc', 'models.diffusion.uni_pc.sampler',
    'models.diffusion.uni_pc.uni_pc', 'models.sd3.mmdit', 'models.sd3.other_impls', 'models.sd3.sd3_cond',
    'models.sd3.sd3_impls', 'models.sd3.sd3_model', 'ngrok', 'npu_specific', 'options', 'patches', 'paths',
    'paths_internal', 'postprocessing', 'processing', 'processing_scripts.comments', 'processing_scripts.refiner',
    'processing_scripts.sampler', 'processing_scripts.seed', 'profiling', 'progress', 'prompt_parser',
    'realesrgan_model', 'restart', 'rng', 'rng_philox', 'safe', 'script_callbacks', 'script_loading', 'scripts',
    'scripts_auto_postprocessing', 'scripts_postprocessing', 'sd_disable_initialization', 'sd_emphasis', 'sd_hijack',
    'sd_hijack_checkpoint', 'sd_hijack_clip', 'sd_hijack_clip_old', 'sd_hijack_ip2p', 'sd_hijack_open_clip',
    'sd_hijack_optimizations', 'sd_hijack_unet', 'sd_hijack_utils', 'sd_hijack_xlmr', 'sd_models', 'sd_models_config',
    'sd_models_types', 'sd_models_xl', 'sd_samplers', 'sd_samplers_cfg_denoiser', 'sd_samplers_common',
    'sd_samplers_compvis', 'sd_samplers_extra', 'sd_samplers_kdiffusion', 'sd_samplers_lcm', 'sd_samplers_timesteps',
    'sd_samplers_timesteps_impl', 'sd_schedulers', 'sd_unet', 'sd_vae', 'sd_vae_approx', 'sd_vae_taesd', 'shared',
    'shared_cmd_options', 'shared_gradio_themes', 'shared_init', 'shared_items', 'shared_options', 'shared_state',
    'shared_total_tqdm', 'styles', 'sub_quadratic_attention', 'sysinfo', 'textual_inversion.autocrop',
    'textual_inversion.dataset', 'textual_inversion.image_embedding', 'textual_inversion.learn_schedule',
    'textual_inversion.saving_settings', 'textual_inversion.textual_inversion', 'textual_inversion.ui', 'timer',
    'torch_utils', 'txt2img', 'ui', 'ui_checkpoint_merger', 'ui_common', 'ui_components', 'ui_extensions',
    'ui_extra_networks', 'ui_extra_networks_checkpoints', 'ui_extra_networks_checkpoints_user_metadata',
    'ui_extra_networks_hypernets', 'ui_extra_networks_textual_inversion', 'ui_extra_networks_user_metadata',
    'ui_gradio_extensions', 'ui_loadsave', 'ui_postprocessing', 'ui_prompt_styles', 'ui_settings', 'ui_tempdir',
    'ui_toprow', 'upscaler', 'upscaler_utils', 'util', 'xlmr', 'xlmr_m18', 'xpu_specific',
)


@pytest.fixture(scope="module")
def bound(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("a1111-modules"), tiny_checkpoint, "--nowebui")
    start(app, [])
    yield app
    app.jobs.close()
    stop(app)


def test_every_a1111_module_imports(bound):
    failed = {}
    for name in A1111_MODULES:
        try:
            importlib.import_module(f"modules.{name}")
        except Exception as e:  # noqa: BLE001 - collected for one clear assertion
            failed[name] = f"{type(e).__name__}: {e}"
    assert failed == {}


def test_a_module_easel_lacks_says_why(bound):
    from modules import sd_hijack_clip

    with pytest.raises(AttributeError, match="FrozenCLIPEmbedderWithCustomWords.*modules/conditioning"):
        _ = sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords
    with pytest.raises(ImportError):
        from modules.interrogate import InterrogateModels  # noqa: F401


def test_prompt_parser(bound):
    from modules import prompt_parser

    assert prompt_parser.get_learned_conditioning_prompt_schedules(["a [b:c:2]"], 4) == [[[2, "a b"], [4, "a c"]]]
    assert prompt_parser.parse_prompt_attention("(x:1.5) y") == [["x", 1.5], [" y", 1.0]]
    sched = [prompt_parser.ScheduledPromptConditioning(1, torch.zeros(2, 3)),
             prompt_parser.ScheduledPromptConditioning(3, torch.ones(2, 3))]
    assert prompt_parser.reconstruct_cond_batch([sched], 0).sum() == 0
    assert prompt_parser.reconstruct_cond_batch([sched], 2).shape == (1, 2, 3)  # [B, T, C]
    multi = prompt_parser.MulticondLearnedConditioning((1,), [[
        prompt_parser.ComposableScheduledPromptConditioning(sched, 1.0),
        prompt_parser.ComposableScheduledPromptConditioning(sched, 0.5)]])
    conds_list, stacked = prompt_parser.reconstruct_multicond_batch(multi, 2)
    assert conds_list == [[(0, 1.0), (1, 0.5)]] and stacked.shape == (2, 2, 3)


def test_extra_networks_masking_timer_patches(bound):
    from modules import extra_networks, masking, patches, timer

    text, nets = extra_networks.parse_prompt("a cat <lora:film:0.8> <hypernet:h:te=1>")
    assert text == "a cat  " and nets["lora"][0].items == ["film", "0.8"] and nets["hypernet"][0].named == {"te": "1"}
    seen = []

    class Net(extra_networks.ExtraNetwork):
        def activate(self, p, params_list):
            seen.append([p.items for p in params_list])

        def deactivate(self, p):
            seen.append("off")

    extra_networks.register_extra_network(Net("mine"))
    try:
        extra_networks.activate(None, extra_networks.parse_prompt("<mine:a:1>")[1])
        extra_networks.deactivate(None, {})
        assert seen == [[["a", "1"]], "off"]
    finally:
        extra_networks.initialize()
    mask = Image.new("L", (20, 20))
    mask.paste(255, (5, 6, 9, 10))
    assert masking.get_crop_region(mask, 2) == (3, 4, 11, 12)
    assert masking.get_crop_region(Image.new("L", (8, 4))) == (0, 0, 8, 4)
    assert masking.expand_crop_region((5, 6, 9, 10), 64, 32, 20, 20) == (3, 6, 11, 10)
    t = timer.Timer()
    t.record("load")
    assert "load" in t.records and t.summary().endswith("s")

    class Thing:
        value = 1

    assert patches.patch("ext", Thing, "value", 2) == 1 and Thing.value == 2
    assert patches.original("ext", Thing, "value") == 1
    with pytest.raises(RuntimeError):
        patches.patch("ext", Thing, "value", 3)
    assert patches.undo("ext", Thing, "value") == 1 and Thing.value == 1


class Evil:
    def __reduce__(self):
        return (print, ("ran",))


def test_safe_load_refuses_code_and_admits_tensors(bound, tmp_path):
    from modules import safe

    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(2)}, good)
    assert torch.equal(safe.load(str(good))["w"], torch.ones(2))
    bad = tmp_path / "bad.pt"
    torch.save({"x": Evil()}, bad)
    with pytest.raises(Exception, match=r"builtin(s|__)\.print"):
        safe.load(str(bad))
    with safe.Extra(lambda module, name: print if name == "print" and "builtin" in module else None):
        assert safe.load(str(bad))["x"] is None  # print("ran") returns None: the handler allowed it
    with pytest.raises(Exception, match=r"builtin(s|__)\.print"):
        safe.load(str(bad))  # the handler was for that block only
    assert pickle.loads(pickle.dumps(1)) == 1


def test_api_helpers(bound):
    from modules.api import api, models

    image = Image.new("RGB", (4, 4), (255, 0, 0))
    image.info["parameters"] = "a red square"
    encoded = api.encode_pil_to_base64(image)
    assert isinstance(encoded, bytes)
    back = api.decode_base64_to_image("data:image/png;base64," + encoded.decode())
    assert back.getpixel((0, 0)) == (255, 0, 0) and back.info["parameters"] == "a red square"
    assert api.validate_sampler_name("k_euler_a") == "Euler a"
    assert models.StableDiffusionTxt2ImgProcessingAPI(prompt="x").prompt == "x"


def test_shared_names_extensions_read(bound):
    from modules import extensions, options, sd_samplers_kdiffusion, shared, util

    assert options.OptionInfo is shared.OptionInfo and options.categories.mapping["sd"].label == "Stable Diffusion"
    assert [e.name for e in extensions.active()] == [e.name for e in bound.extensions.enabled()]
    assert isinstance(extensions.extensions, list)
    assert "Euler" in [row[0] for row in sd_samplers_kdiffusion.samplers_k_diffusion]
    assert shared.mem_mon.read()["total"] >= 0
    shared.total_tqdm.updateTotal(3)
    shared.total_tqdm.update()
    shared.total_tqdm.clear()
    assert sorted(["img10", "img2"], key=util.natural_sort_key) == ["img2", "img10"]
    assert shared.State is type(shared.state)


def test_models_noise_and_upscalers(bound, tmp_path):
    from modules import lowvram, modelloader, rng, sd_samplers_common, ui, upscaler
    from modules.sampling.noise import ImageRNG

    (tmp_path / "a.pth").write_bytes(b"x")
    (tmp_path / "b.txt").write_bytes(b"x")
    assert modelloader.load_models(str(tmp_path), ext_filter=[".pth"]) == [str(tmp_path / "a.pth")]
    assert modelloader.friendly_name("https://x/y/4x-Model.pth") == "4x-Model"
    ours = rng.ImageRNG((4, 8, 8), [7]).next()
    assert torch.equal(ours, ImageRNG((4, 8, 8), [7], source="gpu").next())  # the randn_source default
    latents = torch.zeros(1, 4, 8, 8)
    assert sd_samplers_common.samples_to_images_tensor(latents, approximation=2).shape == (1, 3, 8, 8)
    assert lowvram.is_enabled() is False
    assert upscaler.UpscalerLanczos().upscale(Image.new("RGB", (16, 8)), 2).size == (32, 16)
    assert ui.gr_show(False)["visible"] is False and "easel" in ui.versions_html()


def test_names_the_extension_corpus_missed(bound, tmp_path):
    """What real extensions of docs/extension-corpus.md failed on: processing.images, colour correction,
    paths_internal.roboto_ttf_file, `from scripts.xyz_grid import …`, shared.gradio_theme."""
    import numpy as np
    from PIL import ImageFont

    from modules import images, paths_internal, processing, shared
    from modules.extensions.compat.loader import ExtensionFolder, load_extension_scripts
    from modules.extensions.compat.reporting import FAILURES

    assert processing.images is images and processing.shared is shared
    painted = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    painted.putpixel((1, 0), (9, 9, 9, 200))
    assert list(processing.create_binary_mask(painted).getdata()) == [0, 255]  # ADetailer's version check
    reference = Image.new("RGB", (8, 8), (200, 40, 40))
    grey = Image.new("RGB", (8, 8), (120, 120, 120))
    corrected = processing.apply_color_correction(processing.setup_color_correction(reference), grey)
    r, g, b = corrected.getpixel((0, 0))
    assert r > g + 40 and r > b + 40  # the reference's red
    luma = np.asarray(corrected.convert("L"), dtype=float).mean()
    assert abs(luma - 120) < 8  # the image's own lightness
    font = paths_internal.roboto_ttf_file
    if any(__import__("os").path.isfile(f) for f in paths_internal.FONT_CANDIDATES):
        assert ImageFont.truetype(font, 12) is not None
    shared.gradio_theme.my_extension_color = "#123456"  # A1111 extensions set CSS variables this way
    folder = tmp_path / "sd-grid-number"
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "numbers.py").write_text("from scripts.xyz_grid import axis_options\n"
                                                   "AXES = len(axis_options)\n")
    FAILURES.clear()
    load_extension_scripts([ExtensionFolder("sd-grid-number", folder)])
    assert FAILURES.failures == []
    import sys

    assert sys.modules["scripts.xyz_grid"].axis_options


def test_checkpoint_files_and_small_names(bound, tmp_path):
    from safetensors.torch import save_file

    from modules import lowvram, prompt_parser, sd_models, shared

    path = tmp_path / "net.safetensors"
    save_file({"w": torch.ones(2, 3)}, str(path), metadata={"ss_tags": '{"cat": 3}', "ss_name": "net"})
    assert sd_models.read_metadata_from_safetensors(str(path)) == {"ss_tags": {"cat": 3}, "ss_name": "net"}
    assert torch.equal(sd_models.read_state_dict(str(path))["w"], torch.ones(2, 3))
    pt = tmp_path / "net.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, pt)
    assert torch.equal(sd_models.read_state_dict(str(pt))["w"], torch.zeros(2))
    assert sd_models.checkpoints_loaded == {}
    conds = prompt_parser.SdConditioning(["a", "b"], width=512, height=768)
    assert list(conds) == ["a", "b"] and (conds.width, conds.height, conds.is_negative_prompt) == (512, 768, False)
    assert prompt_parser.SdConditioning(["c"], is_negative_prompt=True, copy_from=conds).height == 768
    assert shared.config_filename.endswith("config.json") and lowvram.module_in_gpu is None


def test_easels_own_modules_win_over_a1111_names(bound):
    """A core package that takes an A1111 module name (modules/interrogate did) is imported, never shadowed."""
    import sys

    import modules.extensions.compat as compat

    sys.modules.pop("modules.interrogate", None)
    compat.REASONS["modules.interrogate"] = "test: an A1111 name Easel's core also has"
    try:
        module = importlib.import_module("modules.interrogate")
        assert module.__file__.endswith("modules/interrogate/__init__.py")
    finally:
        del compat.REASONS["modules.interrogate"]


def test_a_package_easel_lacks_still_gives_its_submodules(bound):
    """`modules.textual_inversion` has no counterpart, but A1111 had imported its `textual_inversion` submodule, so
    `modules.textual_inversion.textual_inversion.EmbeddingDatabase` was an attribute chain extensions read
    (sd-webui-lora-block-weight's postprocess)."""
    package = importlib.import_module("modules.textual_inversion")
    vars(package).pop("textual_inversion", None)  # as before anything imported the submodule
    assert package.textual_inversion.EmbeddingDatabase is not None
    with pytest.raises(AttributeError, match="modules.textual_inversion.nothing"):
        _ = package.nothing
