"""A1111's list, settings and refresh routes. Lists show what exists now (no placeholder entries)."""
from __future__ import annotations

from typing import Any

import psutil
from fastapi import APIRouter

from modules.api.settings_checks import check_model_names, check_settings, effective_checkpoint
from modules.upscalers.registry import LATENT_MODES


def sd_model_entry(info, family=None) -> dict:
    """A1111's fields, plus Easel's `family` (the family table's label, e.g. "SDXL"; None when unknown)."""
    return {"title": info.title, "model_name": info.model_name, "hash": info.shorthash or None,
            "sha256": info.sha256, "filename": str(info.path),
            "config": str(info.config_path) if info.config_path else None,
            "family": family.label if family else None}


def memory_body() -> dict:
    import torch  # here, not at the top: the API is mounted before torch loads (docs/architecture.md §4)

    vm = psutil.virtual_memory()
    body: dict[str, Any] = {"ram": {"free": vm.available, "used": vm.total - vm.available, "total": vm.total}}
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        stats = torch.cuda.memory_stats()
        body["cuda"] = {"system": {"free": free, "used": total - free, "total": total},
                        "active": {"current": stats.get("active_bytes.all.current", 0),
                                   "peak": stats.get("active_bytes.all.peak", 0)},
                        "allocated": {"current": stats.get("allocated_bytes.all.current", 0),
                                      "peak": stats.get("allocated_bytes.all.peak", 0)},
                        "reserved": {"current": stats.get("reserved_bytes.all.current", 0),
                                     "peak": stats.get("reserved_bytes.all.peak", 0)}}
    else:
        body["cuda"] = {"error": "CUDA is not available"}
    return body


def set_options(app, changes: dict) -> list[str]:
    """POST /options: all-or-nothing, checked before anything is saved; `sd_model_checkpoint` must name a checkpoint
    and is stored as its title, `sd_vae` must be Automatic, None or a listed VAE."""
    check_settings(changes, app.options, app.paths.data_dir, "options")
    check_model_names(app, changes, "")
    changes = dict(changes)
    if "sd_model_checkpoint" in changes:
        changes["sd_model_checkpoint"] = app.models.find_checkpoint(changes["sd_model_checkpoint"]).title
    changed = app.options.update(changes)
    if "sd_model_checkpoint" in changed:
        app.reload_checkpoint()  # A1111 loads the new model at once; here between jobs, never under one
    return changed


def build_router(app) -> APIRouter:  # noqa: C901 - one short function per route
    router = APIRouter()
    samplers = app.services.samplers

    @router.get("/options")
    def get_options() -> dict[str, Any]:
        """Every setting; `sd_model_checkpoint` is the checkpoint jobs use, also while the setting is still empty."""
        return {**app.options.data(), "sd_model_checkpoint": effective_checkpoint(app)}

    @router.post("/options")
    def post_options(changes: dict[str, Any]) -> dict[str, Any]:
        set_options(app, changes)
        return {}

    @router.get("/cmd-flags")
    def cmd_flags() -> dict[str, Any]:
        return {k: v for k, v in vars(app.flags).items() if not k.endswith("_auth")}

    @router.get("/samplers")
    def list_samplers() -> list[dict[str, Any]]:
        return [{"name": s.name, "aliases": list(s.aliases), "options": s.api_options()} for s in samplers.samplers]

    @router.get("/schedulers")
    def list_schedulers() -> list[dict[str, Any]]:
        return [s.api_entry() for s in samplers.schedulers]

    @router.get("/upscalers")
    def list_upscalers() -> list[dict[str, Any]]:
        return [u.api_entry() for u in app.services.upscalers.list()]

    @router.get("/latent-upscale-modes")
    def latent_upscale_modes() -> list[dict[str, Any]]:
        return [{"name": n} for n in LATENT_MODES]

    @router.get("/sd-models")
    def sd_models() -> list[dict[str, Any]]:
        return [sd_model_entry(c, app.models.family_of(c)) for c in app.models.list_checkpoints()]

    @router.get("/sd-vae")
    def sd_vae() -> list[dict[str, Any]]:
        return [{"model_name": v.name, "filename": str(v.path)} for v in app.models.list_vaes()]

    @router.get("/prompt-styles")
    def prompt_styles() -> list[dict[str, Any]]:
        styles = app.services.styles
        return [{"name": s.name, "prompt": s.prompt, "negative_prompt": s.negative_prompt}
                for s in (styles.get(n) for n in styles.names())]

    @router.get("/embeddings")
    def embeddings() -> dict[str, Any]:
        from modules.pipeline.extra_networks import embeddings_listing  # sorted for the current model's encoders

        return embeddings_listing(app.services)

    @router.get("/loras")
    def loras() -> list[dict[str, Any]]:
        return [info.api_info() for info in app.services.loras.list()]

    @router.get("/hypernetworks")
    def hypernetworks() -> list[dict[str, Any]]:
        return []

    @router.get("/face-restorers")
    def face_restorers() -> list[dict[str, Any]]:
        """A1111's rows ({name, cmd_dir}) for the restorers whose model file is in models/."""
        upscalers = getattr(app.services, "upscalers", None)
        return upscalers.faces.api_entries() if upscalers is not None else []

    @router.get("/realesrgan-models")
    def realesrgan_models() -> list[dict[str, Any]]:
        return []

    @router.get("/memory")
    def memory() -> dict[str, Any]:
        return memory_body()

    @router.get("/scripts")
    def scripts() -> dict[str, list[str]]:
        """A1111: the lower-case names of every script of each tab."""
        host = getattr(app, "scripts", None)
        if host is None:
            return {"txt2img": [], "img2img": []}
        return {kind: [t.lower() for t in host.titles(kind)] for kind in ("txt2img", "img2img")}

    @router.get("/script-info")
    def script_info() -> list[dict[str, Any]]:
        host = getattr(app, "scripts", None)
        return host.script_info() if host is not None else []

    @router.get("/extensions")
    def extensions() -> list[dict[str, Any]]:
        manager = getattr(app, "extensions", None)
        return [e.api_dict() for e in manager.all()] if manager is not None else []

    @router.post("/refresh-checkpoints")
    def refresh_checkpoints() -> dict:
        app.models.list_checkpoints(refresh=True)
        return {}

    @router.post("/refresh-vae")
    def refresh_vae() -> dict:
        app.models.list_vaes(refresh=True)
        return {}

    @router.post("/refresh-upscalers")
    def refresh_upscalers() -> dict:
        app.services.upscalers.list(refresh=True)
        return {}

    @router.post("/refresh-loras")
    def refresh_loras() -> dict:
        app.services.loras.list(refresh=True)
        return {}

    @router.post("/refresh-embeddings")
    def refresh_embeddings() -> dict:
        app.services.embeddings.refresh()
        return {}

    @router.post("/unload-checkpoint")
    def unload_checkpoint() -> dict:
        app.unload_checkpoint()
        return {}

    @router.post("/reload-checkpoint")
    def reload_checkpoint() -> dict:
        app.reload_checkpoint()
        return {}

    return router

