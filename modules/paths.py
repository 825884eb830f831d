"""Where Easel's files live: the install folder (code, configs, built-in model) and the data dir (user data)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INSTALL_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    """All file locations for one App. `data_dir` holds everything the user owns."""

    data_dir: Path
    install_dir: Path = INSTALL_DIR
    extra_checkpoint_dirs: tuple[Path, ...] = ()
    extra_checkpoint_files: tuple[Path, ...] = ()
    vae_dir_override: Path | None = None
    lora_dir_override: Path | None = None
    embeddings_dir_override: Path | None = None
    models_dir_override: Path | None = None  # A1111's --models-dir
    config_json_override: Path | None = None  # --ui-settings-file
    ui_config_override: Path | None = None  # --ui-config-file
    styles_override: Path | None = None  # --styles-file

    @property
    def models_dir(self) -> Path:
        return self.models_dir_override or self.data_dir / "models"

    @property
    def checkpoint_dir(self) -> Path:
        return self.models_dir / "Stable-diffusion"

    @property
    def builtin_checkpoint_dir(self) -> Path:
        """The install folder's own checkpoints (the built-in model); always searched."""
        return self.install_dir / "models" / "Stable-diffusion"

    @property
    def checkpoint_dirs(self) -> tuple[Path, ...]:
        dirs = [self.checkpoint_dir, *self.extra_checkpoint_dirs]
        if self.builtin_checkpoint_dir.resolve() != self.checkpoint_dir.resolve():
            dirs.append(self.builtin_checkpoint_dir)
        return tuple(dirs)

    @property
    def vae_dir(self) -> Path:
        return self.vae_dir_override or self.models_dir / "VAE"

    @property
    def lora_dir(self) -> Path:
        return self.lora_dir_override or self.models_dir / "Lora"

    @property
    def embeddings_dir(self) -> Path:
        return self.embeddings_dir_override or self.data_dir / "embeddings"

    @property
    def extensions_dir(self) -> Path:
        return self.data_dir / "extensions"

    @property
    def builtin_extensions_dir(self) -> Path:
        return self.install_dir / "extensions-builtin"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    @property
    def configs_dir(self) -> Path:
        return self.install_dir / "configs"

    @property
    def config_json(self) -> Path:
        return self.config_json_override or self.data_dir / "config.json"

    @property
    def ui_config_json(self) -> Path:
        return self.ui_config_override or self.data_dir / "ui-config.json"

    @property
    def styles_csv(self) -> Path:
        return self.styles_override or self.data_dir / "styles.csv"

    @property
    def cache_json(self) -> Path:
        return self.data_dir / "cache.json"

    def upscaler_dir(self, name: str) -> Path:
        return self.models_dir / name
