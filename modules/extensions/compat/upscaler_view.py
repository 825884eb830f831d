"""`shared.sd_upscalers`: A1111's UpscalerData rows for the App's upscalers; `row.scaler.upscale(img, scale, path)`
runs Easel's upscaler of that name (tiled, with the ESRGAN tile settings)."""
from __future__ import annotations

from types import SimpleNamespace

from modules.extensions.compat import binding


class ScalerView:
    """A1111's Upscaler object as extensions call it: `upscale(img, scale, selected_model=None)`."""

    def __init__(self, name: str, scale: float):
        self.name, self.scale = name, scale
        self.model_path = self.model_url = None
        self.enable = True

    def upscale(self, img, scale, selected_model=None):
        app = binding.app()
        opts = app.options
        return app.services.upscalers.upscale(img, self.name, float(scale), opts.get("ESRGAN_tile"),
                                              opts.get("ESRGAN_tile_overlap"))

    def do_upscale(self, img, selected_model=None):
        return self.upscale(img, self.scale, selected_model)


def upscaler_list() -> list:
    upscalers = binding.app().services.upscalers
    rows = upscalers.list() if upscalers is not None else []
    return [SimpleNamespace(name=r.name, data_path=str(r.path) if r.path else None, scale=r.scale,
                            scaler=ScalerView(r.name, r.scale), model=None,
                            model_name=r.path.stem if r.path else None, model_path=r.path, local_data_path=r.path)
            for r in rows]
