"""A1111 1.10.1's command-line flags that Easel's own flags (modules/cli.py) do not cover, so that a user's
`COMMANDLINE_ARGS` from A1111 starts Easel: each one either acts (handled where the App is built: webui.py),
changes nothing by Easel's design and is said at start with the reason, or stops the start naming the flag and
why. None is accepted in silence.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

ACTS, NOTED, REFUSED = "acts", "noted", "refused"


@dataclass(frozen=True)
class A1111Flag:
    name: str  # "--skip-install"
    kind: str  # "switch", "value" or "append" (as A1111 declares it)
    effect: str  # ACTS, NOTED or REFUSED
    why: str = ""  # what happens instead (NOTED) or why not (REFUSED)


_LAUNCHER = "A1111's launch.py switch; Easel's setup is webui.sh, which pins its packages: nothing to do here"
_ATTENTION = ("A1111's choice of cross-attention kernel; Easel picks its kernels itself (torch's SDPA, and on a "
              "bf16 CPU its blocked and oneDNN fused kernels): docs/performance.md")
_NOTHING = "does nothing in A1111 1.10.1 either"
_PATH = "a separate folder for these models is not available yet: put the files under the data dir's models/"

FLAGS: tuple[A1111Flag, ...] = (
    # acted on in webui.py (`apply_a1111_flags`, `build_paths`, `create_server`, `main`)
    A1111Flag("--loglevel", "value", ACTS),
    *(A1111Flag(name, "value", ACTS) for name in (
        "--esrgan-models-path", "--realesrgan-models-path", "--dat-models-path", "--codeformer-models-path",
        "--gfpgan-models-path")),
    A1111Flag("--models-dir", "value", ACTS),
    A1111Flag("--styles-file", "append", ACTS),
    A1111Flag("--ui-settings-file", "value", ACTS),
    A1111Flag("--ui-config-file", "value", ACTS),
    A1111Flag("--gradio-auth-path", "value", ACTS),
    A1111Flag("--autolaunch", "switch", ACTS),
    A1111Flag("--device-id", "value", ACTS),
    A1111Flag("--theme", "value", ACTS),
    A1111Flag("--freeze-settings", "switch", ACTS),
    A1111Flag("--max-batch-count", "value", ACTS),
    A1111Flag("--hide-ui-dir-config", "switch", ACTS),
    A1111Flag("--gradio-allowed-path", "append", ACTS),
    A1111Flag("--api-log", "switch", ACTS),
    A1111Flag("--tls-keyfile", "value", ACTS),
    A1111Flag("--tls-certfile", "value", ACTS),
    A1111Flag("--freeze-settings-in-sections", "value", ACTS),
    A1111Flag("--freeze-specific-settings", "value", ACTS),
    A1111Flag("--skip-install", "switch", ACTS),
    A1111Flag("--unix-filenames-sanitization", "switch", ACTS),
    A1111Flag("--filenames-max-length", "value", ACTS),
    # nothing to do in Easel, said at start
    *(A1111Flag(name, "switch", NOTED, _LAUNCHER) for name in (
        "--skip-prepare-environment", "--skip-python-version-check", "--skip-version-check",
        "--reinstall-torch", "--reinstall-xformers", "--update-all-extensions", "--update-check", "--test-server",
        "--log-startup")),
    *(A1111Flag(name, "switch", NOTED, _ATTENTION) for name in (
        "--opt-split-attention", "--opt-split-attention-invokeai", "--opt-split-attention-v1",
        "--opt-sub-quad-attention", "--opt-sdp-no-mem-attention", "--disable-opt-split-attention",
        "--force-enable-xformers", "--xformers-flash-attention")),
    *(A1111Flag(name, "value", NOTED, _ATTENTION) for name in (
        "--sub-quad-q-chunk-size", "--sub-quad-kv-chunk-size", "--sub-quad-chunk-threshold")),
    *(A1111Flag(name, "switch", NOTED, _NOTHING) for name in (
        "--always-batch-cond-uncond", "--unload-gfpgan", "--deepdanbooru", "--show-negative-prompt",
        "--enable-console-prompts", "--gradio-queue")),
    *(A1111Flag(name, "value", NOTED, _NOTHING) for name in ("--gradio-img2img-tool", "--gradio-inpaint-tool",
                                                              "--bsrgan-models-path", "--gfpgan-dir",
                                                              "--gfpgan-model")),
    A1111Flag("--no-download-sd-model", "switch", NOTED, "Easel never downloads a model unless --download-sd15 asks"),
    A1111Flag("--do-not-download-clip", "switch", NOTED, "Easel never downloads CLIP: every tokenizer and text "
              "encoder config it needs ships with it"),
    A1111Flag("--no-progressbar-hiding", "switch", NOTED, "Easel's page shows its own progress bar"),
    A1111Flag("--disable-console-progressbars", "switch", NOTED, "Easel prints no progress bars to the console"),
    A1111Flag("--no-prompt-history", "switch", NOTED, "Easel writes no params.txt; the last generation's "
              "parameters come from the page's own state"),
    A1111Flag("--disable-model-loading-ram-optimization", "switch", NOTED, "Easel always loads tensors straight "
              "into the model (docs/architecture.md)"),
    A1111Flag("--upcast-sampling", "switch", NOTED, "a float16-GPU setting; Easel samples in float32 and runs the "
              "UNet in the precision --precision / --no-half choose"),
    A1111Flag("--medvram-sdxl", "switch", NOTED, "as --medvram (no effect on the CPU)"),
    A1111Flag("--no-gradio-queue", "switch", NOTED, "Easel's page always uses Gradio's queue"),
    A1111Flag("--gradio-debug", "switch", NOTED, "Easel logs Gradio's errors anyway"),
    A1111Flag("--use-textbox-seed", "switch", NOTED, "Easel's seed field already takes any 64-bit seed"),
    A1111Flag("--skip-load-model-at-start", "switch", NOTED, "Easel loads no model until the first job anyway"),
    A1111Flag("--ui-debug-mode", "switch", NOTED, "Easel loads no model until the first job anyway"),
    A1111Flag("--disable-nan-check", "switch", NOTED, "Easel's only NaN check decodes a NaN VAE output again in "
              "float32 (A1111's VAE fallback); it never stops a job"),
    # refused: what they ask for is not in Easel (yet), or never will be
    *(A1111Flag(name, "value", REFUSED, "Easel never opens a public tunnel (use --listen with --gradio-auth and "
                "--api-auth behind your own proxy)") for name in ("--ngrok", "--ngrok-region", "--ngrok-options")),
    A1111Flag("--allow-code", "switch", REFUSED, "Easel does not run code typed into the page (A1111's Custom "
              "code script)"),
    A1111Flag("--administrator", "switch", REFUSED, "Easel has no administrator mode"),
    *(A1111Flag(name, "value", REFUSED, _PATH) for name in (
        "--clip-models-path", "--textual-inversion-templates-dir", "--localizations-dir")),
    A1111Flag("--hypernetwork-dir", "value", REFUSED, "hypernetworks are not supported"),
    A1111Flag("--config", "value", REFUSED, "a default model config is not available: put a same-name .yaml "
              "beside the checkpoint"),
    A1111Flag("--disable-tls-verify", "value", REFUSED, "Easel serves HTTPS only with a certificate it can check "
              "(--tls-keyfile with --tls-certfile)"),
    A1111Flag("--use-ipex", "switch", REFUSED, "Intel XPUs are not supported"),
    A1111Flag("--dump-sysinfo", "switch", REFUSED, "not available"),
)
BY_NAME = {flag.name: flag for flag in FLAGS}


# folder flags → the models/ sub-folder they add a place to (searched first, as A1111's modelloader does)
MODEL_FOLDER_FLAGS = {"--esrgan-models-path": "ESRGAN", "--realesrgan-models-path": "RealESRGAN",
                      "--dat-models-path": "DAT", "--codeformer-models-path": "Codeformer",
                      "--gfpgan-models-path": "GFPGAN"}


def model_folders(flags: argparse.Namespace) -> dict[str, Path]:
    """{models/ sub-folder name: the folder a flag gave}, for the upscalers and face restorers."""
    given = {folder: getattr(flags, dest(name), None) for name, folder in MODEL_FOLDER_FLAGS.items()}
    return {folder: Path(path).expanduser().resolve() for folder, path in given.items() if path}


def dest(name: str) -> str:
    """argparse's attribute name for a flag.

    >>> dest("--ui-settings-file")
    'ui_settings_file'
    """
    return name.lstrip("-").replace("-", "_")


def add_a1111_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("A1111 flags", "accepted so that A1111's COMMANDLINE_ARGS start Easel "
                                      "(docs/a1111-compat.md, \"Command-line flags\")")
    for flag in FLAGS:  # unset reads None, so `shared.cmd_opts` answers A1111's default (compat/cmd_defaults.py)
        help_text = {ACTS: None, NOTED: f"no effect: {flag.why}", REFUSED: f"refused: {flag.why}"}[flag.effect]
        action = {"switch": "store_true", "append": "append", "value": "store"}[flag.kind]
        group.add_argument(flag.name, action=action, default=None, help=help_text)


def given(flags: argparse.Namespace, effect: str) -> list[A1111Flag]:
    """The flags of `effect` present in a parse."""
    return [f for f in FLAGS if f.effect == effect and getattr(flags, dest(f.name), None) not in (None, False, [])]


def notes(flags: argparse.Namespace) -> list[str]:
    """What to say at start about the A1111 flags that change nothing here."""
    return [f"{flag.name}: {flag.why}" for flag in given(flags, NOTED)]


def refusal(flags: argparse.Namespace) -> str | None:
    """Why the start stops, naming the first refused flag given (None when none is)."""
    refused = given(flags, REFUSED)
    return None if not refused else f"{refused[0].name}: {refused[0].why}"


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
THEMES = ("light", "dark")


def apply_flags(flags: argparse.Namespace, environ) -> str | None:
    """Carry out the acting A1111 flags that shape the process before the App exists (log level, GPU choice,
    page credentials from a file); a refused or malformed one is returned as the message to stop with."""
    import logging

    if problem := refusal(flags):
        return problem
    if flags.loglevel is not None:
        if flags.loglevel.upper() not in LOG_LEVELS:
            return f"--loglevel: {flags.loglevel!r} is not a log level ({', '.join(LOG_LEVELS)})"
        logging.getLogger().setLevel(flags.loglevel.upper())
    if flags.max_batch_count is not None and not (flags.max_batch_count.isdigit() and int(flags.max_batch_count)):
        return f"--max-batch-count: {flags.max_batch_count!r} is not a whole number of 1 or more"
    length = flags.filenames_max_length
    if length is not None and not (length.isdigit() and int(length)):
        return f"--filenames-max-length: {length!r} is not a whole number of 1 or more"
    if flags.theme is not None and flags.theme not in THEMES:
        return f"--theme: {flags.theme!r} is not a theme (light or dark)"
    styles = flags.styles_file or []
    if len(styles) > 1 or any(ch in "".join(styles) for ch in "*?["):
        return "--styles-file: Easel reads one styles file; give one path, without wildcards"
    if flags.device_id is not None:
        if not flags.device_id.isdigit():
            return f"--device-id: {flags.device_id!r} is not a GPU index (0, 1, …)"
        visible = [d for d in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
        chosen = int(flags.device_id)
        if visible and chosen >= len(visible):
            return f"--device-id: {chosen} is past the {len(visible)} GPUs CUDA_VISIBLE_DEVICES leaves visible"
        environ["CUDA_VISIBLE_DEVICES"] = visible[chosen] if visible else str(chosen)  # A1111's cuda:<id>
    if bool(flags.tls_keyfile) != bool(flags.tls_certfile):
        return "--tls-keyfile and --tls-certfile go together: give both, or neither"
    for name, path in (("--tls-keyfile", flags.tls_keyfile), ("--tls-certfile", flags.tls_certfile)):
        if path and not Path(path).expanduser().is_file():
            return f"{name}: {path} is not a file"
    if flags.gradio_auth_path:
        try:
            text = Path(flags.gradio_auth_path).expanduser().read_text(encoding="utf-8")
        except OSError as e:
            return f"--gradio-auth-path: cannot read {flags.gradio_auth_path}: {e.strerror}"
        entries = [flags.gradio_auth or "", *(line.strip() for line in text.splitlines())]
        flags.gradio_auth = ",".join(e for e in entries if e) or None  # A1111: the file adds to --gradio-auth
    return None
