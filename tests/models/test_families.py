"""Family detection from keys and shapes: SD1, SD1 inpainting; refusals for the rest (SDXL:
tests/models/test_sdxl.py)."""
import pytest

from modules.errors import ModelLoadError
from modules.models.families import CLIP_L_PREFIX, UNET_IN, detect_family

SD1 = {CLIP_L_PREFIX + "text_model.embeddings.token_embedding.weight": (49408, 768)}


@pytest.mark.parametrize("channels, family", [(4, "sd1"), (9, "sd1-inpaint")])
def test_sd1_variants(channels, family):
    assert detect_family({**SD1, UNET_IN: (320, channels, 3, 3)}, "m.safetensors").name == family


@pytest.mark.parametrize("shapes, words", [
    ({**SD1, UNET_IN: (320, 8, 3, 3)}, "instruct-pix2pix checkpoints are not supported yet"),
    ({"cond_stage_model.model.ln_final.weight": (1024,), UNET_IN: (320, 9, 3, 3)}, "SD 2.x inpainting"),
    ({"conditioner.embedders.0.transformer.x": (1,), UNET_IN: (320, 4, 3, 3)},  # CLIP-L without bigG
     "SDXL instruct-pix2pix/other variants checkpoints are not supported"),
    ({"lora_unet_down.lora_up.weight": (4, 4)}, "not a Stable Diffusion checkpoint (wrong architecture"),
    ({UNET_IN: (320, 4, 3, 3)}, "wrong architecture"),  # a UNet alone is not a checkpoint
])
def test_refusals_name_the_file(shapes, words):
    with pytest.raises(ModelLoadError, match=words.replace("(", r"\(").replace(".", r"\.")) as err:
        detect_family(shapes, "/models/thing.safetensors")
    assert "/models/thing.safetensors" in str(err.value)
