"""Start-up of the extension layer, called by webui.py (the composition root): bind the App, make A1111's names
importable, import the enabled extensions' scripts, register their settings; returns the ScriptHost."""
from __future__ import annotations

import logging
from pathlib import Path

from modules.extensions.compat import binding, install_aliases, script_callbacks, shared
from modules.extensions.compat.core_extras import extend_core_modules
from modules.extensions.compat.host import ScriptHost
from modules.extensions.compat.loader import ExtensionFolder, load_extension_scripts
from modules.extensions.compat.options_view import register_a1111_rows
from modules.extensions.compat import ui_extra_networks
from modules.extensions.constraints import protect_this_process

log = logging.getLogger("easel.extensions")


def _install_shims() -> None:
    from modules.extensions.compat import component_hooks
    from modules.extensions.compat.pydantic1 import install_pydantic1_shim

    try:
        from modules.extensions.compat.gradio3 import install_gradio3_shim
    except ImportError:
        install_gradio3_shim = None
    if install_gradio3_shim is not None:
        install_gradio3_shim()
    install_pydantic1_shim()
    component_hooks.install()


def start_extensions(app, folders: list[tuple[str, Path]], on_warning=None) -> ScriptHost:
    """Load the scripts of `folders` ((name, path) in load order) into a host bound to `app`; `on_warning(name,
    text)` hears what the loader finds wrong with a script that did load (a misspelled hook)."""
    host = ScriptHost(app)
    binding.bind(app, host)
    install_aliases()
    extend_core_modules(app)
    register_a1111_rows(app.options)
    if folders:  # Gradio is patched only for extension code: without extensions the page runs on Gradio as shipped
        _install_shims()
    script_callbacks.clear_callbacks()
    ui_extra_networks.initialize()  # pages registered for an earlier App (tests start several) are not this one's
    shared.state.forget_replacements()
    if folders:  # scripts that run pip themselves at import: held to Easel's versions (extensions/constraints.py)
        protect_this_process()
        ensure_settings_file(app.paths.config_json)
        ensure_settings_file(app.paths.ui_config_json)  # extensions read ui-config.json at import (sd-webui-negpip)
    # failures reach FAILURES' listeners
    load_extension_scripts([ExtensionFolder(n, Path(p)) for n, p in folders], on_warning=on_warning)
    host.initialize()
    script_callbacks.ui_settings_callback()  # settings exist before the Settings tab and config.json read them
    log.info("extensions: %d scripts from %d extension folders", len(host.all_titles()), len(folders))
    return host


def ensure_settings_file(path: Path) -> bool:
    """A1111's extensions read its settings files themselves (`cmd_opts.ui_settings_file`, e.g. a route that serves
    it to their JavaScript; `cmd_opts.ui_config_file`, opened when their script is imported), and an A1111 user has
    both once the UI was built or anything applied. When one is missing it is created holding no values (`{}`), so
    that no default is written down as if the user had chosen it (docs/a1111-compat.md). True when it was
    created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n", encoding="utf-8")
    return True
