"""A1111's `modules.upscaler`: the Upscaler base class and UpscalerData row extensions subclass or build, and the
built-in Lanczos/Nearest/None upscalers (PIL resampling)."""
from __future__ import annotations

from PIL import Image

LANCZOS = Image.Resampling.LANCZOS
NEAREST = Image.Resampling.NEAREST


class Upscaler:
    """Subclass and define `do_upscale(img, selected_model)`; `upscale` repeats it until the size is reached."""

    name = None
    model_path = None
    model_name = None
    model_url = None
    enable = True
    filter = None
    model = None
    user_path = None
    scalers: list = []
    tile = True

    def __init__(self, create_dirs: bool = False):
        self.mod_pad_h = None
        self.tile_size = 192
        self.tile_pad = 8
        self.device = None
        self.scale = 1
        self.half = False
        self.pre_pad = 0
        self.mod_scale = None
        self.model_download_path = None
        if self.model_path is None and self.name:
            from modules.extensions.compat import shared

            self.model_path = f"{shared.models_path}/{self.name}"
        if self.model_path and create_dirs:
            import os

            os.makedirs(self.model_path, exist_ok=True)

    def do_upscale(self, img: Image.Image, selected_model: str):
        return img

    def upscale(self, img: Image.Image, scale: float, selected_model: str | None = None) -> Image.Image:
        self.scale = scale
        dest_w, dest_h = int((img.width * scale) // 8 * 8), int((img.height * scale) // 8 * 8)
        for _ in range(3):
            if img.width >= dest_w and img.height >= dest_h:
                break
            shape = img.size
            img = self.do_upscale(img, selected_model)
            if shape == img.size:
                break
        if img.size != (dest_w, dest_h):
            img = img.resize((dest_w, dest_h), resample=LANCZOS)
        return img

    def load_model(self, path: str):
        return None

    def find_models(self, ext_filter=None) -> list:
        from modules.extensions.compat.modelloader import load_models

        return load_models(model_path=self.model_path, model_url=self.model_url, command_path=self.user_path,
                           ext_filter=ext_filter)

    def update_status(self, prompt):
        import logging

        logging.getLogger("easel.extensions").info("extras: %s", prompt)


class UpscalerData:
    def __init__(self, name: str, path: str | None, upscaler: Upscaler = None, scale: int = 4, model=None,
                 sha256: str | None = None):
        self.name, self.data_path, self.local_data_path = name, path, path
        self.scaler, self.scale, self.model, self.sha256 = upscaler, scale, model, sha256

    def __repr__(self):
        return f"<UpscalerData name={self.name} path={self.data_path} scale={self.scale}>"


class UpscalerNone(Upscaler):
    name = "None"

    def __init__(self, dirname=None):
        super().__init__(False)
        self.scalers = [UpscalerData("None", None, self)]

    def load_model(self, path):
        return None

    def do_upscale(self, img, selected_model=None):
        return img


class UpscalerLanczos(Upscaler):
    name = "Lanczos"

    def __init__(self, dirname=None):
        super().__init__(False)
        self.scalers = [UpscalerData("Lanczos", None, self)]

    def do_upscale(self, img, selected_model=None):
        return img.resize((int(img.width * self.scale), int(img.height * self.scale)), resample=LANCZOS)


class UpscalerNearest(Upscaler):
    name = "Nearest"

    def __init__(self, dirname=None):
        super().__init__(False)
        self.scalers = [UpscalerData("Nearest", None, self)]

    def do_upscale(self, img, selected_model=None):
        return img.resize((int(img.width * self.scale), int(img.height * self.scale)), resample=NEAREST)
