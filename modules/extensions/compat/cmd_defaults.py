"""A1111 1.10's command-line defaults for the flags Easel does not have (or leaves unset), so `shared.cmd_opts.X`
answers what an extension would read on A1111: a folder under the models dir for `--esrgan-models-path`, False for
a switch, 16 for `--max-batch-count`. Flags whose A1111 default is None (`--ckpt-dir`, `--vae-dir`, …) stay None.
"""
from __future__ import annotations

from typing import Any

# folder flags: (base, sub-folder) with base "models" (the models dir), "data" (the data dir) or "install"
PATH_FLAGS: dict[str, tuple[str, str]] = {
    "data_dir": ("data", ""),
    "embeddings_dir": ("data", "embeddings"),
    "hypernetwork_dir": ("models", "hypernetworks"),
    "lora_dir": ("models", "Lora"),
    "lyco_dir_backcompat": ("models", "LyCORIS"),
    "codeformer_models_path": ("models", "Codeformer"),
    "gfpgan_models_path": ("models", "GFPGAN"),
    "esrgan_models_path": ("models", "ESRGAN"),
    "bsrgan_models_path": ("models", "BSRGAN"),
    "realesrgan_models_path": ("models", "RealESRGAN"),
    "dat_models_path": ("models", "DAT"),
    "ldsr_models_path": ("models", "LDSR"),
    "scunet_models_path": ("models", "ScuNET"),
    "swinir_models_path": ("models", "SwinIR"),
    "ui_config_file": ("data", "ui-config.json"),
    "ui_settings_file": ("data", "config.json"),
    "localizations_dir": ("install", "localizations"),
    "textual_inversion_templates_dir": ("install", "textual_inversion_templates"),
    "config": ("install", "configs/v1-inference.yaml"),
}

VALUES: dict[str, Any] = {
    "filenames_max_length": 128, "gfpgan_dir": "./GFPGAN", "gradio_queue": True, "max_batch_count": 16,
    "ngrok_region": "", "precision": "autocast", "sub_quad_q_chunk_size": 1024, "timeout_keep_alive": 30,
}

# A1111's switches (store_true): False unless given
SWITCHES = frozenset((
    "add_stop_route", "administrator", "allow_code", "always_batch_cond_uncond", "api", "api_log", "api_server_stop",
    "autolaunch", "deepdanbooru", "disable_all_extensions", "disable_console_progressbars", "disable_extra_extensions",
    "disable_model_loading_ram_optimization", "disable_nan_check", "disable_opt_split_attention",
    "disable_safe_unpickle", "do_not_download_clip", "dump_sysinfo", "enable_console_prompts",
    "enable_insecure_extension_access", "f", "force_enable_xformers", "freeze_settings", "gradio_debug",
    "hide_ui_dir_config", "listen", "log_startup", "lowram", "lowvram", "medvram", "medvram_sdxl",
    "no_download_sd_model", "no_gradio_queue", "no_half", "no_half_vae", "no_hashing", "no_progressbar_hiding",
    "no_prompt_history", "nowebui", "opt_channelslast", "opt_sdp_attention", "opt_sdp_no_mem_attention",
    "opt_split_attention", "opt_split_attention_invokeai", "opt_split_attention_v1", "opt_sub_quad_attention",
    "reinstall_torch", "reinstall_xformers", "share", "show_negative_prompt", "skip_install",
    "skip_load_model_at_start", "skip_prepare_environment", "skip_python_version_check", "skip_torch_cuda_test",
    "skip_version_check", "test_server", "ui_debug_mode", "unix_filenames_sanitization", "unload_gfpgan",
    "upcast_sampling", "update_all_extensions", "update_check", "use_ipex", "use_textbox_seed", "xformers",
    "xformers_flash_attention",
))

# A1111's flags whose default is None
NONE_FLAGS = frozenset((
    "api_auth", "ckpt_dir", "clip_models_path", "cors_allow_origins", "cors_allow_origins_regex", "device_id",
    "disable_tls_verify", "freeze_settings_in_sections", "freeze_specific_settings", "gfpgan_model", "gradio_auth",
    "gradio_auth_path", "gradio_img2img_tool", "gradio_inpaint_tool", "loglevel", "models_dir", "ngrok", "port",
    "server_name", "sub_quad_chunk_threshold", "sub_quad_kv_chunk_size", "subpath", "theme", "tls_certfile",
    "tls_keyfile", "vae_dir", "vae_path", "ckpt",
))

# lists and dicts are built fresh on each read, so an extension appending to one changes nothing shared
FRESH = {"use_cpu": list, "styles_file": list, "ngrok_options": dict}


def is_a1111_flag(key: str) -> bool:
    """Whether `key` (argparse dest) is one of A1111 1.10's flags (or of its built-in extensions')."""
    return key in PATH_FLAGS or key in VALUES or key in SWITCHES or key in FRESH or key in NONE_FLAGS \
        or key == "gradio_allowed_path"


def default(key: str, paths) -> Any:
    """A1111's default of flag `key` (argparse dest), with folders under `paths` (an Easel Paths); None if unknown.

    >>> from pathlib import Path
    >>> from modules.paths import Paths
    >>> p = Paths(data_dir=Path("/d"))
    >>> default("esrgan_models_path", p), default("xformers", p), default("ckpt_dir", p)
    ('/d/models/ESRGAN', False, None)
    """
    if key in PATH_FLAGS:
        base, sub = PATH_FLAGS[key]
        root = {"models": paths.models_dir, "data": paths.data_dir, "install": paths.install_dir}[base]
        return str(root / sub) if sub else str(root)
    if key == "gradio_allowed_path":
        return [str(paths.data_dir)]
    if key in FRESH:
        return FRESH[key]()
    if key in SWITCHES:
        return False
    return VALUES.get(key)
