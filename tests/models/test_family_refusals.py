"""A checkpoint that cannot be the main model (unknown architecture, a family without an engine yet) is refused
from its header with the file's name and the supported families, before the current model is dropped: nothing is
half-loaded and the model in use stays usable."""
from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import save_file

from modules.errors import ModelLoadError
from modules.models.devices import DeviceConfig
from modules.models.families import UNET_IN
from modules.models.hashing import HashCache
from modules.models.manager import ModelManager
from modules.models.probes import SDXL_CLIP_G_PREFIX, SDXL_CLIP_L_PREFIX
from modules.paths import Paths

FP32 = DeviceConfig(dtype=torch.float32, vae_dtype=torch.float32)


@pytest.mark.parametrize("name, tensors, reason", [
    ("lora.safetensors", {"lora_unet_x.lora_up.weight": torch.zeros(2, 2)},
     r"not a Stable Diffusion checkpoint \(wrong architecture.*supported: .*SDXL"),
    ("xl-pix2pix.safetensors", {UNET_IN: torch.zeros(1, 8, 1, 1), SDXL_CLIP_L_PREFIX + "x": torch.zeros(1),
                                SDXL_CLIP_G_PREFIX + "y": torch.zeros(1)},
     r"SDXL instruct-pix2pix/other variants checkpoints are not supported yet \(supported: "),
])
def test_refused_before_the_current_model_is_dropped(tmp_path, tiny_checkpoint, name, tensors, reason):
    folder = tmp_path / "models" / "Stable-diffusion"
    folder.mkdir(parents=True)
    for file in tiny_checkpoint.parent.glob(tiny_checkpoint.stem + ".*"):
        shutil.copy(file, folder / file.name)
    save_file(tensors, str(folder / name))
    paths = Paths(data_dir=tmp_path)
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    current = manager.get(tiny_checkpoint.name)
    with pytest.raises(ModelLoadError, match=name.replace(".", r"\.") + ".*" + reason):
        manager.get(name)
    assert manager.current is current and current.unet is not None  # still loaded, still usable


def test_a_vae_of_another_family_leaves_the_loaded_model_and_its_vae(tmp_path):
    """A 16-channel VAE (SD3/Flux-shaped) chosen for a loaded SDXL model: an error naming the VAE file; the model
    keeps its own VAE and still decodes."""
    from tests.fixtures.tiny_sdxl import make_16_channel_vae, make_tiny_sdxl_checkpoint

    make_tiny_sdxl_checkpoint(tmp_path / "models" / "Stable-diffusion", name="xl")
    make_16_channel_vae(tmp_path / "models" / "VAE")
    paths = Paths(data_dir=tmp_path)
    manager = ModelManager(paths, FP32, HashCache(paths.cache_json))
    model = manager.get("xl")
    own_vae = model.vae
    with pytest.raises(ModelLoadError, match=r"flux\.safetensors.*VAE weights do not fit"):
        manager.get("xl", "flux.safetensors")
    assert manager.current is model and model.vae is own_vae and model.vae_name is None
    assert model.decode(torch.zeros(1, 4, 8, 8)).shape == (1, 3, 64, 64)
