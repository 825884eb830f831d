"""The checkpoint dropdown shows the chosen model's family (its info line; the entries stay A1111's titles, which
extensions read), width/height follow the chosen model's native size unless the user set them, and infotexts of
A1111's SDXL images with Refiner keys paste back into the fields."""
from __future__ import annotations

import pytest

from modules.imaging.infotext import parse_infotext
from modules.ui.model_family import family_note
from modules.ui.paste_wiring import paste_targets, updates_for
from tests.fixtures.tiny_sdxl import make_tiny_sdxl_checkpoint
from tests.pipeline.conftest import make_app

# A1111 1.10.1's infotext of an SDXL 1.0 base + refiner image (the public files' short hashes; sdxl_vae.safetensors)
A1111_SDXL = ("a photo of an astronaut riding a horse on mars, (highly detailed:1.2)\n"
              "Negative prompt: blurry, lowres\n"
              "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 2887523437, Size: 1024x1024, "
              "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, VAE hash: 235745af8d, VAE: sdxl_vae.safetensors, "
              "Refiner: sd_xl_refiner_1.0 [7440042bbd], Refiner switch at: 0.8, Version: v1.10.1")
# A1111 1.6.0 (the release that added the refiner): the sampler and scheduler still in one name
A1111_16_SDXL = ("a Bobcat kid character running in flower field\n"
                 "Steps: 40, Sampler: DPM++ 3M SDE Karras, CFG scale: 7, Seed: 112358132134, Size: 1024x1024, "
                 "Model hash: e6bb9ea85b, Model: sd_xl_base_1.0_0.9vae, Refiner: sd_xl_refiner_1.0 [8d0ce6c016], "
                 "Refiner switch at: 0.8, Version: v1.6.0")


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_checkpoint):
    """A page over the tiny SD 1.x model (its yaml: native 64 px, selected) and, without yamls, a tiny SDXL base and
    refiner named as the public files (their headers say SDXL: native 1024 px). Nothing is loaded."""
    from modules.ui.layout import build_ui

    data = tmp_path_factory.mktemp("ui-families")
    app = make_app(data, tiny_checkpoint)
    folder = data / "models" / "Stable-diffusion"
    make_tiny_sdxl_checkpoint(folder, name="sd_xl_base_1.0", with_yaml=False)
    make_tiny_sdxl_checkpoint(folder, kind="refiner", name="sd_xl_refiner_1.0", with_yaml=False)
    app.models.list_checkpoints(refresh=True)
    app.options.set("sd_model_checkpoint", app.models.find_checkpoint(tiny_checkpoint.stem).title)
    return app, build_ui(app)


def title(app, name: str) -> str:
    return app.models.find_checkpoint(name).title


def test_each_family_is_named_under_the_dropdown_whose_entries_stay_titles(built, tiny_checkpoint):
    app, blocks = built
    assert family_note(app, title(app, "sd_xl_base_1.0")) == "SDXL · native 1024×1024"
    assert family_note(app, title(app, "sd_xl_refiner_1.0")) == "SDXL refiner · native 1024×1024"
    assert family_note(app, title(app, tiny_checkpoint.stem)) == "SD 1.x · native 64×64"
    assert app.models.current is None  # read from the files' headers and yamls
    [dropdown] = [b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "setting_sd_model_checkpoint"]
    assert dropdown.info == "SD 1.x · native 64×64"
    shown = [c if isinstance(c, str) else c[0] for c in dropdown.choices]
    assert shown == [c if isinstance(c, str) else c[1] for c in dropdown.choices]  # visible text = A1111's title
    assert title(app, "sd_xl_base_1.0") in shown


def chosen_handler(blocks):
    [handler] = [f for f in blocks.fns.values() if getattr(f.fn, "__name__", "") == "chosen"]
    return handler


def test_choosing_a_model_moves_untouched_sizes_to_its_native_size(built):
    app, blocks = built
    handler = chosen_handler(blocks)
    ids = [getattr(o, "elem_id", None) for o in handler.outputs]
    assert ids[2:] == ["txt2img_width", "txt2img_height", "img2img_width", "img2img_height"]
    xl = title(app, "sd_xl_base_1.0")
    info, shown_for, *sizes = handler.fn(xl, 64, 64, 64, 64, 64)
    assert info["info"] == "SDXL · native 1024×1024" and shown_for == 1024
    assert [s["value"] for s in sizes] == [1024] * 4
    _, _, *sizes = handler.fn(xl, 64, 640, 64, 64, 64)  # txt2img's width was changed by the user
    assert ["value" in s for s in sizes] == [False, False, True, True]
    _, shown_for, *sizes = handler.fn(title(app, "sd_xl_refiner_1.0"), 1024, 1024, 1024, 1024, 1024)
    assert shown_for == 1024 and not any("value" in s for s in sizes)  # same native size: nothing moves


@pytest.mark.parametrize("infotext, sampler, scheduler, seed", [(A1111_SDXL, "DPM++ 2M", "Karras", 2887523437),
                                                                (A1111_16_SDXL, "DPM++ 3M SDE", "Karras",
                                                                 112358132134)])
def test_a1111_sdxl_infotexts_with_refiner_keys_paste_back(built, infotext, sampler, scheduler, seed):
    app, blocks = built
    params = parse_infotext(infotext)
    assert params["Refiner switch at"] == "0.8" and params["Refiner"].startswith("sd_xl_refiner_1.0 [")
    assert (params["Size-1"], params["Size-2"]) == ("1024", "1024")
    ctx = blocks.easel_context
    names, _ = paste_targets(ctx, "txt2img")
    values = {n: u["value"] for n, u in zip(names, updates_for(ctx, names, infotext)) if "value" in u}
    assert values["prompt"] == infotext.split("\n")[0]
    assert (values["sampler_name"], values["scheduler"], values["seed"]) == (sampler, scheduler, seed)
    assert (values["width"], values["height"], values["cfg_scale"]) == (1024, 1024, 7.0)
    assert values["refiner_enable"] is True and values["refiner_switch_at"] == 0.8
    assert values["refiner_checkpoint"] == title(app, "sd_xl_refiner_1.0")  # found by name, whatever its hash
