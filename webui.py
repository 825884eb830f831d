"""Easel's composition root: parse flags → build the App → mount API and UI → serve. The only wiring place."""
from __future__ import annotations

import argparse
import contextlib
import functools
import ipaddress
import logging
import os
import sys
import threading
import time
import webbrowser
from collections.abc import MutableMapping
from pathlib import Path

from modules import cli, cli_a1111
from modules.paths import INSTALL_DIR, Paths

log = logging.getLogger("easel")
STARTUP_FAILURE = 3  # uvicorn's exit status when the server cannot start
PAGE_WAIT_S = 3.0  # the warm-up waits this long for the first page request before starting without it
# On Ctrl+C / SIGTERM, open connections get this long to finish before they are cut: an open page holds Gradio's
# event streams forever, so without a limit the server never exited while a browser tab was open (a job in flight
# is not lost either way: the queue is on disk, modules/jobs/store.py).
SHUTDOWN_GRACE_S = 3
# Offline and private: no hub, no telemetry, no analytics (values the user set win).
OFFLINE_ENVIRONMENT = (("HF_HUB_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("DIFFUSERS_OFFLINE", "1"), ("GRADIO_ANALYTICS_ENABLED", "False"), ("DO_NOT_TRACK", "1"))


def set_offline_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Called first by `main` (and by a cluster worker before it builds its App): the libraries read these when
    they are imported, which no module imported above does."""
    for key, value in OFFLINE_ENVIRONMENT:
        environ.setdefault(key, value)


def build_paths(flags: argparse.Namespace) -> Paths:
    def opt(value):
        return Path(value).expanduser().resolve() if value else None

    return Paths(
        data_dir=opt(flags.data_dir) or INSTALL_DIR,
        extra_checkpoint_dirs=tuple(p for p in [opt(flags.ckpt_dir)] if p),
        extra_checkpoint_files=tuple(p for p in [opt(flags.ckpt)] if p),
        vae_dir_override=opt(flags.vae_dir),
        lora_dir_override=opt(flags.lora_dir),
        embeddings_dir_override=opt(flags.embeddings_dir),
        models_dir_override=opt(getattr(flags, "models_dir", None)),  # A1111's flags (modules/cli_a1111.py)
        config_json_override=opt(getattr(flags, "ui_settings_file", None)),
        ui_config_override=opt(getattr(flags, "ui_config_file", None)),
        styles_override=opt((getattr(flags, "styles_file", None) or [None])[0]),
    )


def build_app(flags: argparse.Namespace, worker: bool = False):
    """Create every long-lived object once and hand each its dependencies. `worker`: the App of a cluster worker
    (modules/cluster/worker.py): its jobs come from the API server's queue, so it keeps no jobs.sqlite of its own."""
    from modules.app import VERSION, App
    from modules.conditioning.embedding_db import EmbeddingDatabase
    from modules.extensions.manager import ExtensionManager
    from modules.imaging.saving import ImageSaver
    from modules.models.hashing import HashCache
    from modules.controlnet.library import ControlNetLibrary, controlnet_dirs
    from modules.controlnet.preprocessors import PREPROCESSORS, UNAVAILABLE
    from modules.controlnet.preprocessors.annotator_files import annotator_roots
    from modules.controlnet.preprocessors.networks import with_networks
    from modules.models.lora_library import LoraLibrary
    from modules.models.manager import ModelManager
    from modules.options import Options
    from modules.options.frozen import FrozenSettings
    from modules.pipeline.conditioning_service import PromptConditioning
    from modules.pipeline.services import PipelineServices
    from modules.prompts.styles import StyleDatabase
    from modules.sampling.registry import SamplerRegistry
    from modules.upscalers import Upscalers

    paths = build_paths(flags)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    options = Options(paths.config_json, frozen=FrozenSettings.from_flags(
        getattr(flags, "freeze_settings", False), getattr(flags, "freeze_settings_in_sections", None),
        getattr(flags, "freeze_specific_settings", None),
        getattr(flags, "hide_ui_dir_config", False)))  # A1111's --freeze-settings*, --hide-ui-dir-config
    hashes = HashCache(paths.cache_json, enabled=not flags.no_hashing)
    models = ModelManager(paths, functools.partial(choose_devices, flags), hashes,
                          disable_safe_unpickle=flags.disable_safe_unpickle)
    if flags.ckpt:
        options.set("sd_model_checkpoint", models.find_checkpoint(str(Path(flags.ckpt).resolve())).title)
    embeddings = EmbeddingDatabase([paths.embeddings_dir], hashes, flags.disable_safe_unpickle)
    services = PipelineServices(models=models, samplers=SamplerRegistry(),
                                conditioning=PromptConditioning(embeddings, models),
                                saver=ImageSaver(rules=filename_rules(flags)), paths=paths,
                                version=f"easel-{VERSION}", embeddings=embeddings,
                                loras=LoraLibrary(paths.lora_dir, flags.disable_safe_unpickle,
                                                  hashing=not flags.no_hashing),
                                styles=StyleDatabase(paths.styles_csv),
                                upscalers=Upscalers(paths.models_dir, lambda: models.device_config.device,
                                                    flags.disable_safe_unpickle, cli_a1111.model_folders(flags)),
                                controlnets=ControlNetLibrary(controlnet_dirs(paths), flags.disable_safe_unpickle),
                                controlnet_preprocessors=with_networks(
                                    PREPROCESSORS, UNAVAILABLE, annotator_roots(paths), flags.disable_safe_unpickle))
    from modules.jobs import JobStore

    app = App(paths=paths, flags=flags, options=options, services=services,
              job_store=None if worker else JobStore(paths.data_dir / "jobs.sqlite"),
              extensions=ExtensionManager.start(paths, options, flags))
    app.scripts = start_scripts(app)
    return app


def choose_devices(flags: argparse.Namespace):
    """The DeviceConfig for the flags on this machine. The ModelManager calls it at the first model load (or the
    warm-up): detecting CUDA imports torch, which the page does not wait for."""
    from modules.models.devices import DeviceFlags, choose_device_config, detect_hardware

    config = choose_device_config(DeviceFlags.from_namespace(flags), detect_hardware())
    for note in config.notes:
        log.info(note)
    return config


def start_scripts(app):
    """Import the enabled extensions' scripts through the A1111 compatibility layer (the only place that wires it);
    each failure of extension code goes to the Extensions tab's problem column."""
    from modules.extensions.compat.reporting import FAILURES
    from modules.extensions.compat.startup import start_extensions

    manager = app.extensions
    FAILURES.listeners[:] = [lambda f: manager.report_problem(f.extension, f"{f.hook}: {f.error}")]
    return start_extensions(app, [(e.name, e.path) for e in manager.enabled()], on_warning=manager.report_problem)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_host(flags: argparse.Namespace) -> str:
    return flags.server_name or ("0.0.0.0" if flags.listen else "127.0.0.1")


def check_exposure(flags: argparse.Namespace) -> str | None:
    """Refuse to serve a network without authentication (a message), unless --insecure says so."""
    if is_loopback(server_host(flags)) or flags.insecure:
        return None
    required = [("--api-auth", flags.api_auth)] + ([] if flags.nowebui else [("--gradio-auth", flags.gradio_auth)])
    missing = [name for name, value in required if not value]
    if not missing:
        return None
    return (f"Easel would be reachable from other machines ({server_host(flags)}) without authentication. "
            f"Add {' and '.join(m + ' USER:PASSWORD' for m in missing)}, or pass --insecure if you really mean it.")


def create_server(app):
    from fastapi import FastAPI

    from modules.api.server import mount_api

    # docs and schema are served by mount_api, behind --api-auth like every API route
    server = FastAPI(title="Easel", version=app.services.version, docs_url=None, redoc_url=None, openapi_url=None)
    mount_api(server, app)
    open_routes = list(server.router.routes)  # the API's routes check --api-auth themselves
    if not app.flags.nowebui:
        from modules.ui.layout import mount_ui

        server = mount_ui(server, app)
        if not app.flags.gradio_auth:  # a page without login loads its scripts without one; /file= stays guarded
            open_routes += [r for r in server.router.routes[len(open_routes):]
                            if not getattr(r, "path", "").startswith("/file=")]
    if app.scripts is not None:  # extensions add routes now (on_app_started(demo, app))
        known = len(server.router.routes)
        app.scripts.app_started(getattr(server.state, "easel_blocks", None), server)
        routes_before_page(server, known)
        server.router.on_shutdown.append(app.scripts.unloaded)
    guard_routes(server, app.flags, open_routes)
    if getattr(app.flags, "theme", None) and not app.flags.nowebui:
        open_with_theme(server, app.flags.theme)
    if getattr(app.flags, "api_log", False):
        log_api_calls(server)
    return server


def log_api_calls(server) -> None:
    """A1111's --api-log: one line per /sdapi call (status, method, path, client, seconds)."""
    api_log = logging.getLogger("easel.api")

    @server.middleware("http")
    async def logged(request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        if request.url.path.startswith("/sdapi"):
            client = request.client.host if request.client else "-"
            api_log.info("API %d %s %s %s %.3fs", response.status_code, request.method, request.url.path, client,
                         time.perf_counter() - started)
        return response


def open_with_theme(server, theme: str) -> None:
    """A1111's --theme: the page opens in Gradio's light or dark theme (its `__theme` query parameter), unless the
    address already names one."""
    from starlette.responses import RedirectResponse

    @server.middleware("http")
    async def themed(request, call_next):
        if request.method == "GET" and request.url.path == "/" and "__theme" not in request.query_params:
            return RedirectResponse(str(request.url.include_query_params(__theme=theme)), status_code=307)
        return await call_next(request)


def guard_routes(server, flags: argparse.Namespace, open_routes: list) -> None:
    """With --api-auth or --gradio-auth, every route outside the API and the page needs one of their credentials
    (extension routes, /file=), including routes added after start-up (docs/security.md)."""
    from modules.api.auth import RouteGuard

    pairs = [*cli.parse_credentials(flags.api_auth or ""), *cli.parse_credentials(flags.gradio_auth or "")]
    if pairs:
        server.add_middleware(RouteGuard, router=server.router, open_routes=open_routes, pairs=pairs)


def routes_before_page(server, known: int) -> None:
    """Routes added after the page was mounted at "/" would never be reached: move them in front of the mount."""
    from starlette.routing import Mount

    routes = server.router.routes
    added = routes[known:]
    del routes[known:]
    first_mount = next((i for i, r in enumerate(routes) if isinstance(r, Mount) and r.path in ("", "/")), len(routes))
    routes[first_mount:first_mount] = added


def fetch_sd15(app) -> bool:
    """`--download-sd15`: fetch SD 1.5 into the checkpoint folder from the URL in the settings (sha256-checked)."""
    from modules.errors import EaselError
    from modules.models.download import download_sd15

    try:
        download_sd15(app.paths.checkpoint_dir, app.options.get("sd15_download_url"),
                      app.options.get("sd15_download_sha256") or None)
    except EaselError as e:
        print(f"easel: {e}", file=sys.stderr)
        return False
    app.models.list_checkpoints(refresh=True)
    return True


def parse_flags(argv=None) -> argparse.Namespace:
    """The flags, after every loading extension's preload.py added its own (their failures go to the tab)."""
    from modules.extensions.manager import PRELOAD_PROBLEMS
    from modules.extensions.preload import preload_extensions

    problems: dict[str, str] = {}

    def preload(parser, first_pass):
        problems.update(preload_extensions(parser, build_paths(first_pass), first_pass))

    flags = cli.parse_args_with_preload(argv, preload=preload)
    setattr(flags, PRELOAD_PROBLEMS, problems)
    return flags


def main(argv=None) -> int:
    set_offline_environment()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from modules.allocator import configure_at_start

    log.info("memory allocator: %s (docs/performance.md)", configure_at_start())  # before any large tensor
    flags = parse_flags(argv)
    if notice := cli.memory_saver_notice(flags):
        log.warning(notice)
    for note in cli_a1111.notes(flags):
        log.warning("A1111 flag with no effect here: %s", note)
    problem = cli_a1111.apply_flags(flags, os.environ) or check_exposure(flags) or check_cluster_flags(flags)
    if problem:
        print(f"easel: {problem}", file=sys.stderr)
        return 2
    if flags.worker:
        from modules.cluster.runtime import run_worker_node

        return run_worker_node(flags.ray_address, flags.workers, INSTALL_DIR)
    app = build_app(flags)
    if flags.download_sd15 and not fetch_sd15(app):
        return 1
    if not app.models.list_checkpoints():
        log.warning("no checkpoint found: put a Stable Diffusion 1.x .safetensors or .ckpt file in %s",
                    app.paths.checkpoint_dir)
    elif note := app.models.builtin_note():
        log.info(note)
    if (flags.workers or flags.ray_address) and not start_cluster(app, flags, list(argv or [])):
        return 2
    app.jobs.start()  # resumes jobs a previous run (or a crash) left queued
    server = create_server(app)
    port = flags.port or (7861 if flags.nowebui else 7860)
    log.info("Easel %s on %s://%s:%d", app.services.version, scheme(flags), server_host(flags), port)
    if flags.autolaunch and not flags.nowebui:  # A1111's --autolaunch: the page in the default browser
        threading.Timer(1.0, webbrowser.open, [f"{scheme(flags)}://127.0.0.1:{port}/"]).start()
    try:
        return 0 if serve(server, app, server_host(flags), port) else STARTUP_FAILURE
    finally:
        if app.cluster is not None:
            app.cluster.close()


def check_cluster_flags(flags: argparse.Namespace) -> str | None:
    if flags.worker and not flags.ray_address:
        return "--worker needs --ray-address (the head node's address) to join"
    if flags.workers is not None and flags.workers < 1:
        return f"--workers must be 1 or more, got {flags.workers}"
    return None


def start_cluster(app, flags: argparse.Namespace, argv: list[str]) -> bool:
    """Hand the queue's jobs to Ray workers instead of this process (docs/cluster.md); False: no cluster."""
    from modules.cluster.dispatcher import ClusterDispatcher
    from modules.cluster.runtime import ClusterUnavailable, connect, gpu_count, local_threads, worker_argv

    try:
        connect(flags.workers, flags.ray_address, INSTALL_DIR)
    except ClusterUnavailable as e:
        print(f"easel: {e.message}", file=sys.stderr)
        return False
    local = not flags.ray_address
    threads = local_threads(flags.workers or 1) if local and not gpu_count() else None
    app.jobs.remove_slot("local")
    app.cluster = ClusterDispatcher(app.jobs, worker_argv(argv), app.snapshot_for, app.paths.data_dir,
                                    threads=threads, use_gpus=bool(gpu_count()) if local else False)
    app.cluster.start()
    log.info("jobs run on Ray workers (%s)", flags.ray_address or f"{flags.workers} local")
    return True


def serve(server, app, host: str, port: int) -> bool:
    """Run uvicorn until stopped (False: it never started, e.g. the port was taken). Then the App warms up in the
    background (torch, the pipelines): after the page has been served once, so that the page does not share the
    CPU with the imports, or `PAGE_WAIT_S` after listening when nobody asks for it (API only, no browser yet)."""
    import uvicorn

    page_served = threading.Event()
    asgi = server if app.flags.nowebui else FirstPageSignal(server, page_served)
    key, cert = tls_files(app.flags)
    listener = uvicorn.Server(uvicorn.Config(asgi, host=host, port=port, log_level="warning",
                                             timeout_graceful_shutdown=SHUTDOWN_GRACE_S, ssl_keyfile=key,
                                             ssl_certfile=cert))
    wait_s = 0.0 if app.flags.nowebui else PAGE_WAIT_S
    threading.Thread(target=warm_up_when_listening, args=(listener, app, page_served, wait_s), name="easel-warm-up",
                     daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        listener.run()
    return listener.started


def filename_rules(flags: argparse.Namespace):
    """A1111's --unix-filenames-sanitization and --filenames-max-length, as the image saver takes them."""
    from modules.imaging.saving import FilenameRules

    length = getattr(flags, "filenames_max_length", None)  # checked to be a whole number at start (cli_a1111)
    return FilenameRules.from_flags(bool(getattr(flags, "unix_filenames_sanitization", None)),
                                    None if length is None else int(length))


def tls_files(flags: argparse.Namespace) -> tuple[str | None, str | None]:
    """A1111's --tls-keyfile / --tls-certfile: uvicorn serves HTTPS with them (checked at start: both or none)."""
    key, cert = getattr(flags, "tls_keyfile", None), getattr(flags, "tls_certfile", None)
    return (key, cert) if key and cert else (None, None)


def scheme(flags: argparse.Namespace) -> str:
    return "https" if tls_files(flags)[0] else "http"


class FirstPageSignal:
    """ASGI wrapper around the server: sets `event` once the page (GET /) has been answered in full."""

    def __init__(self, app, event: threading.Event):
        self.app, self.event = app, event

    async def __call__(self, scope, receive, send):
        if self.event.is_set() or scope["type"] != "http" or scope["path"] != "/":
            return await self.app(scope, receive, send)

        async def watched(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.event.set()

        return await self.app(scope, receive, watched)


def warm_up_when_listening(listener, app, page_served: threading.Event, wait_s: float, poll_s: float = 0.05) -> None:
    """Once uvicorn accepts connections and the page was served (or `wait_s` passed), `app.warm_up()`; a failure is
    logged, and the first job that needs the same imports reports it to the user."""
    while not listener.started:
        if listener.should_exit:
            return
        time.sleep(poll_s)
    page_served.wait(wait_s)
    started = time.perf_counter()
    try:
        app.warm_up()
    except Exception:  # noqa: BLE001 - reported by the job that needs it; the server goes on
        log.exception("warm-up failed (the first generation will try again)")
        return
    log.info("ready to generate: torch and the pipelines imported in %.1f s (no model loaded yet)",
             time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
