"""`shared.sd_upscalers`: A1111's UpscalerData rows for the App's upscalers."""
from __future__ import annotations

from types import SimpleNamespace

from modules.extensions.compat import binding


def upscaler_list() -> list:
    upscalers = binding.app().services.upscalers
    rows = upscalers.list() if upscalers is not None else []
    return [SimpleNamespace(name=r.name, data_path=str(r.path) if r.path else None, scale=r.scale, scaler=None,
                            model=None, model_name=r.path.stem if r.path else None, model_path=r.path, local_data_path=r.path)
            for r in rows]
