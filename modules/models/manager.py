"""ModelManager: the sole owner of weights. Lists checkpoints and VAEs, loads, switches and frees models.

One model is loaded at a time; switching drops the previous one (and collects it) before reading the next, so two
never sit in memory together. The one exception is a refiner (docs/pipeline.md, "Refiner"): a second model held
beside the current one while a job switches to it, and kept for the next job only while memory allows.
All methods are thread-safe: loading holds `_load_lock`, listings `_list_lock`.
Listing, finding and native sizes need no torch; it is imported with the first load (the page is served before
torch loads, docs/architecture.md §4).
"""
from __future__ import annotations

import gc
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from modules.errors import NotFound
from modules.models.discovery import (VAE_AUTOMATIC, CheckpointInfo, VaeInfo, find_checkpoints_in, find_vaes_in,
                                      resolve_vae)
from modules.models.families import FAMILIES, Family, family_of_file, refuse_unloadable
from modules.models.hashing import HashCache, short_hash
from modules.models.model_config import DEFAULT_NATIVE_SIZE, load_spec
from modules.models.weight_storage import Fp8Setting
from modules.paths import Paths

if TYPE_CHECKING:
    import torch
    from transformers import CLIPTokenizer

    from modules.models.devices import DeviceConfig
    from modules.models.loaded import LoadedModel
    from modules.models.lora import AppliedLoras, LoraNetwork
    from modules.models.safe_load import TensorSource

SHOWN_NAMES = 8
log = logging.getLogger(__name__)


def loader():
    """The loader module, imported on first load: it pulls in diffusers (about 5 s), which start-up does not need."""
    from modules.models import loader as module

    return module


def default_tokenizer_loader(configs_dir: Path) -> CLIPTokenizer:
    from modules.conditioning.tokenizer import load_clip_tokenizer

    return load_clip_tokenizer(configs_dir)


def _without_hash(text: str) -> str:
    """`name [abcdef0123]` → `name` (a title whose hash went stale still finds its file)."""
    return re.sub(r"\s*\[[0-9a-fA-F]{8,64}\]$", "", text)


def _same_file(path: Path, text: str) -> bool:
    """A checkpoint given by its file path (`--ckpt FILE`)."""
    candidate = Path(text)
    return candidate.is_absolute() and candidate.is_file() and candidate.resolve() == path.resolve()


def available_memory() -> int | None:
    """Bytes of RAM the system can still give (None where it cannot be read)."""
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def keep_second_model(available: int | None, model_bytes: int) -> bool:
    """Keep a refiner loaded between jobs when at least one more model of its size would fit in what is left.

    >>> keep_second_model(8 * 2**30, 2 * 2**30), keep_second_model(2**30, 2 * 2**30), keep_second_model(None, 1)
    (True, False, False)
    """
    return available is not None and available >= model_bytes


def _needs_reload(model: LoadedModel, fp8: Fp8Setting | None) -> bool:
    """Whether `model` holds its weights otherwise than `fp8` asks (None asks nothing)."""
    return fp8 is not None and model.storage != fp8.storage_for(model.is_sdxl)


class ModelManager:
    """Loads checkpoints by name and hands out the current LoadedModel."""

    def __init__(self, paths: Paths, device_config: DeviceConfig | Callable[[], DeviceConfig], hash_cache: HashCache,
                 disable_safe_unpickle: bool = False,
                 tokenizer_loader: Callable[[Path], CLIPTokenizer] = default_tokenizer_loader,
                 families: Sequence[Family] | None = None):
        """`device_config` may be a function giving it, called once when first needed: detecting the hardware
        imports torch, which start-up leaves to the first load (or the background warm-up). `families`: the family
        table (`modules/models/families.py`; None: its FAMILIES, read at the first load)."""
        self.paths = paths
        self.families = None if families is None else tuple(families)
        self._device_config = device_config
        self.hash_cache = hash_cache
        self.disable_safe_unpickle = disable_safe_unpickle
        self._tokenizer_loader = tokenizer_loader
        self._tokenizer: CLIPTokenizer | None = None
        self._checkpoints: list[CheckpointInfo] | None = None
        self._vaes: list[VaeInfo] | None = None
        self._current: LoadedModel | None = None
        self._builtin_announced = False  # the "using the built-in model" log line, once per run
        self._loras: AppliedLoras | None = None  # LoRA patches of the current model, with its original weights
        self._refiner: LoadedModel | None = None  # a second model for refiner switches (see `refiner`)
        self._load_lock = threading.RLock()
        self._list_lock = threading.RLock()
        self._device_lock = threading.Lock()

    @property
    def device_config(self) -> DeviceConfig:
        with self._device_lock:
            if callable(self._device_config):
                self._device_config = self._device_config()
            return self._device_config

    def prepare(self) -> None:
        """Everything a first load needs but the weights: the device choice and the loader's imports (torch,
        diffusers). For the start-up warm-up; `get` does the same when it runs first."""
        _ = self.device_config
        loader()

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def list_checkpoints(self, refresh: bool = False) -> list[CheckpointInfo]:
        """Checkpoints on disk, with hashes where the cache already knows them (listing never hashes)."""
        with self._list_lock:
            if self._checkpoints is None or refresh:
                found = sorted(find_checkpoints_in(self.paths), key=self._listing_order)
                self._checkpoints = [c.with_hash(self.hash_cache.cached(c.path, self._hash_key(c))) for c in found]
            return list(self._checkpoints)

    def list_vaes(self, refresh: bool = False) -> list[VaeInfo]:
        with self._list_lock:
            if self._vaes is None or refresh:
                self._vaes = find_vaes_in(self.paths)
            return list(self._vaes)

    @staticmethod
    def _hash_key(info: CheckpointInfo) -> str:
        return f"checkpoint/{info.name}"

    def _match(self, text: str, infos: list[CheckpointInfo]) -> CheckpointInfo | None:
        bare = _without_hash(text)
        tests = (lambda c: c.title == text, lambda c: c.name == text, lambda c: c.name == bare,
                 lambda c: c.model_name == bare, lambda c: bool(c.shorthash) and c.shorthash == text,
                 lambda c: bool(c.sha256) and c.sha256 == text, lambda c: _same_file(c.path, text))
        for test in tests:
            found = next((c for c in infos if test(c)), None)
            if found is not None:
                return found
        return None

    def find_checkpoint(self, name: str) -> CheckpointInfo:
        """By title, name (relative path), model name, short hash, sha256 or absolute file path.

        Re-scans the folders once before giving up, so a file dropped in since the last listing is found.
        """
        found = self._match(name, self.list_checkpoints())
        if found is None:
            found = self._match(name, self.list_checkpoints(refresh=True))
        if found is None:
            raise NotFound(self._not_found_message(name))
        return found

    def _not_found_message(self, name: str) -> str:
        infos = self.list_checkpoints()
        if not infos:
            return f"checkpoint {name!r} not found: {self._no_checkpoints_hint()}"
        shown = ", ".join(c.title for c in infos[:SHOWN_NAMES]) + (" …" if len(infos) > SHOWN_NAMES else "")
        return f"checkpoint {name!r} not found (valid: {shown})"

    def _no_checkpoints_hint(self) -> str:
        return (f"no checkpoints found; put a .safetensors or .ckpt file in {self.paths.checkpoint_dir} "
                "(or pass --ckpt FILE / --ckpt-dir DIR)")

    def _tokenizer_for(self) -> CLIPTokenizer:
        if self._tokenizer is None:
            self._tokenizer = self._tokenizer_loader(self.paths.configs_dir)
        return self._tokenizer

    def _pick(self, checkpoint: str | None) -> CheckpointInfo:
        current = self._current
        if checkpoint and current is not None and checkpoint in (current.checkpoint.title, current.checkpoint.name):
            # The loaded file keeps answering to the name it was chosen by: its title gains " [hash]" at load, and
            # the bare name may also be another file's (`--ckpt` from outside the models folder with the same
            # file name), which must not be swapped in on the next job.
            return current.checkpoint
        if checkpoint:
            return self.find_checkpoint(checkpoint)
        if self._current is not None:
            return self._current.checkpoint
        infos = self.list_checkpoints() or self.list_checkpoints(refresh=True)
        if not infos:
            raise NotFound(self._no_checkpoints_hint())
        return self._default(infos)

    def _listing_order(self, info: CheckpointInfo) -> tuple[bool, bool]:
        """The user's own checkpoints first (in their order), then the built-in model, then its inpainting variant:
        whatever takes the first of the list as the default gets a text-to-image model."""
        builtin = self.is_builtin(info)
        return builtin, builtin and "inpainting" in info.model_name

    def is_builtin(self, info: CheckpointInfo) -> bool:
        """A checkpoint shipped in the install folder (Easel's built-in model), not one of the user's."""
        return info.path.resolve().parent == self.paths.builtin_checkpoint_dir.resolve()

    def builtin_note(self) -> str | None:
        """What the UI shows on first run: set when no checkpoint of the user's own exists (None otherwise)."""
        infos = self.list_checkpoints()
        if not infos or any(not self.is_builtin(c) for c in infos):
            return None
        return (f"No Stable Diffusion checkpoint found in {self.paths.checkpoint_dir}: using Easel's built-in model "
                f"{infos[0].model_name} (64×64 coloured shapes on plain backgrounds; see its model card). Put a "
                "checkpoint there or use \"Download Stable Diffusion 1.5\" in Settings.")

    def _default(self, infos: list[CheckpointInfo]) -> CheckpointInfo:
        """Nothing selected: the user's first checkpoint; the built-in model only when there is no other."""
        own = next((c for c in infos if not self.is_builtin(c)), None)
        if own is not None:
            return own
        if not self._builtin_announced:
            log.info(self.builtin_note())
            self._builtin_announced = True
        return infos[0]

    def native_size(self, checkpoint: str | None = None) -> int:
        """The resolution a checkpoint was trained at (`easel_native_size` in its yaml; 512 for SD 1.x), read
        without loading weights: the UI and API default width/height to it."""
        current = self._current
        if current is not None and checkpoint in (None, "", current.checkpoint.title, current.checkpoint.name):
            return current.native_size
        info = self._pick(checkpoint or None)
        if info.config_path:
            return load_spec(info.config_path).native_size
        family = self.family_of(info)
        if family is None or family.default_config is None:
            return DEFAULT_NATIVE_SIZE
        return load_spec(self.paths.configs_dir / family.default_config).native_size

    def family_of(self, info: CheckpointInfo) -> Family | None:
        """A checkpoint's family row: the loaded model's, else read from a .safetensors header (no torch, no
        tensors; None for a .ckpt not loaded yet or an unknown layout)."""
        for model in (self._current, self._refiner):
            if model is not None and model.checkpoint.path == info.path:
                return next((f for f in self.families or FAMILIES if f.name == model.family), None)
        return family_of_file(info.path, self.families or FAMILIES)

    def get(self, checkpoint: str | None = None, vae: str = VAE_AUTOMATIC,
            fp8: Fp8Setting | None = None) -> LoadedModel:
        """The loaded model for `checkpoint` (None: the current one, else the first listed) with the VAE `vae`.
        `fp8`: the FP8 settings the model must follow (a model loaded otherwise is loaded again, as A1111 reloads
        the weights when they change); None takes the current model as it is, and loads full weights."""
        with self._load_lock:
            info = self._pick(checkpoint)
            if not info.path.is_file():
                self.list_checkpoints(refresh=True)
                raise NotFound(f"checkpoint file {info.path} no longer exists (the list was refreshed)")
            vae_info = resolve_vae(vae, info, self.list_vaes())
            current = self._current
            if current is not None and current.checkpoint.path == info.path and not _needs_reload(current, fp8):
                if current.vae_path != (vae_info.path if vae_info else None):
                    current = self._current = self._swap_vae(current, vae_info)
                return current
            family = self.family_of(info)  # what cannot be the main model is refused before the current is dropped
            if family is not None and family.supported:
                loader().check_main_model(family, info.path)
            else:
                refuse_unloadable(info.path, self.families or FAMILIES)  # unknown or unsupported, from its header
            held = self._refiner
            if held is not None and held.checkpoint.path == info.path and not held.engine.refiner_only and \
                    held.vae_path == (vae_info.path if vae_info else None) and not _needs_reload(held, fp8):
                self.unload()
                self._current = held  # the refiner becomes the main model: no second read of the file
                return held
            self.unload()
            self._current = self._load(info, vae_info, fp8=fp8)
            return self._current

    def refiner(self, checkpoint: str, vae: str = VAE_AUTOMATIC, fp8: Fp8Setting | None = None) -> LoadedModel:
        """A model beside the current one that a job switches to mid-sampling (`modules/pipeline/refiner.py`).

        The current model stays loaded: the running job still holds it for its next batch, its hires pass and
        decoding, so dropping it here would free nothing. Another refiner replaces this one; `unload` and a
        change of the main model drop it; `release_refiner` decides after each job whether it stays.
        """
        with self._load_lock:
            info = self.find_checkpoint(checkpoint)
            current = self._current
            if current is not None and current.checkpoint.path == info.path:
                return current
            vae_info = resolve_vae(vae, info, self.list_vaes())
            held = self._refiner
            if held is not None and held.checkpoint.path == info.path and \
                    held.vae_path == (vae_info.path if vae_info else None) and not _needs_reload(held, fp8):
                return held
            self._refiner = None
            gc.collect()
            size = info.path.stat().st_size
            available = available_memory()
            if available is not None and available < size:
                log.warning("loading refiner %s (%.1f GiB) beside %s with %.1f GiB of memory available",
                            info.name, size / 2**30, current.checkpoint.name if current else "no model",
                            available / 2**30)
            self._refiner = self._load(info, vae_info, as_refiner=True, fp8=fp8)
            return self._refiner

    def release_refiner(self) -> None:
        """After a job: keep the refiner for the next one only if a model of its size would still fit in the
        memory left (A1111 unloads it when memory is short); otherwise free it now."""
        with self._load_lock:
            held = self._refiner
            if held is None:
                return
            if keep_second_model(available_memory(), held.checkpoint.path.stat().st_size):
                return
            self._refiner = None
            gc.collect()

    @property
    def held_refiner(self) -> LoadedModel | None:
        return self._refiner

    def load_tensors(self, info: CheckpointInfo, tensors: Mapping[str, torch.Tensor], vae: str = VAE_AUTOMATIC,
                     fp8: Fp8Setting | None = None) -> LoadedModel:
        """Make weights held in memory the current model (a merge an extension made; A1111's
        `load_model(already_loaded_state_dict=…)`). `info` gives its name and hash and the file it was made from:
        that file's yaml config, and a later `get` of that file keeps this model, as A1111 compares file names."""
        from modules.models.safe_load import TensorDictSource

        with self._load_lock:
            vae_info = resolve_vae(vae, info, self.list_vaes())
            self.unload()
            self._current = self._load(info, vae_info, fp8=fp8, tensors=TensorDictSource(info.path, tensors))
            return self._current

    def _load(self, info: CheckpointInfo, vae: VaeInfo | None, as_refiner: bool = False,
              fp8: Fp8Setting | None = None, tensors: TensorSource | None = None) -> LoadedModel:
        """Read `info`'s file (or `tensors`, which keep the hash `info` carries) into a LoadedModel."""
        if tensors is None:
            info = info.with_hash(self.hash_cache.sha256(info.path, self._hash_key(info)))
            self._remember_hash(info)
        vae_hash = self.hash_cache.sha256(vae.path, f"vae/{vae.name}") if vae else None
        module = loader()
        model = module.load_model(info, self.device_config, self.paths.configs_dir, self._tokenizer_for(), vae=vae,
                                  vae_hash=vae_hash, disable_safe_unpickle=self.disable_safe_unpickle,
                                  families=self.families or FAMILIES, as_refiner=as_refiner, tensors=tensors)
        if fp8 is not None:
            model.store_weights(fp8.storage_for(model.is_sdxl))
        return model

    def _remember_hash(self, info: CheckpointInfo) -> None:
        with self._list_lock:
            if self._checkpoints is not None:
                self._checkpoints = [info if c.path == info.path else c for c in self._checkpoints]

    def _swap_vae(self, model: LoadedModel, vae: VaeInfo | None) -> LoadedModel:
        """Replace only the VAE. The new one is read before the old one goes, so a bad VAE file changes nothing."""
        if vae is None:
            model.vae = loader().reload_baked_vae(model, self.device_config, self.disable_safe_unpickle)
            model.vae_name = model.vae_hash = model.vae_path = None
        else:
            new_vae = loader().load_vae_file(vae, model.spec, self.device_config, self.disable_safe_unpickle)
            sha = self.hash_cache.sha256(vae.path, f"vae/{vae.name}")
            model.vae, model.vae_name, model.vae_path = new_vae, vae.name, vae.path
            model.vae_hash = short_hash(sha) or None
        gc.collect()
        return model

    def apply_loras(self, model: LoadedModel, loras: list) -> list[str]:
        """Patch exactly `loras` [(LoraNetwork, te_weight, unet_weight)] into `model` (an empty list restores it).

        Originals are kept, so `restore_weights` (or another set) brings every weight back bit for bit; the same
        set again is a no-op. One model carries patches at a time: patching another (a hires checkpoint beside the
        main model) restores the first. Returns warnings (layers that do not fit this model); a LoRA made for
        another model family is an InvalidInput before any weight changes (modules/models/lora_family.py).
        """
        from modules.models.lora import AppliedLoras

        with self._load_lock:
            if self._loras is None or self._loras.model.engine is not model.engine:
                if self._loras is not None:
                    self._loras.restore()
                self._loras = AppliedLoras(model)
            return self._loras.apply(loras)

    def restore_weights(self, model: LoadedModel | None = None) -> None:
        """Undo every LoRA patch of `model` (default: whichever model carries them)."""
        with self._load_lock:
            if self._loras is not None and (model is None or self._loras.model.engine is model.engine):
                self._loras.restore()

    def last_applied_loras(self) -> tuple[tuple[LoraNetwork, float, float], ...]:
        """The LoRAs the current model's last generation patched in, as (network, te_weight, unet_weight); they
        stay listed after the generation restored the weights (what A1111's `loaded_networks` shows)."""
        with self._load_lock:
            state = self._loras
            return state.last_applied if state is not None and state.model is self._current else ()

    def text_weights_key(self, model: LoadedModel) -> str:
        """'' while `model`'s text encoder has its file weights; else a key naming the patches (cache keys)."""
        state = self._loras
        return state.text_key if state is not None and state.model.engine is model.engine else ""

    def unload(self) -> None:
        """Drop the current model and give its memory back."""
        with self._load_lock:
            self._loras = None
            if self._current is None and self._refiner is None:
                return
            self._current = self._refiner = None
            gc.collect()
            import torch  # a model was loaded, so torch already is

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
