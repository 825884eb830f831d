"""Command-line flags. Flags may also come from COMMANDLINE_ARGS, as in A1111."""
from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable, Mapping, Sequence


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--listen", action="store_true", help="bind 0.0.0.0 so other machines can reach Easel (needs auth)")
    add("--server-name", default=None, help="host name or address to bind")
    add("--port", type=int, default=None, help="port (7860; 7861 with --nowebui)")
    add("--api", action="store_true", help="serve /sdapi/v1 beside the UI (always on in Easel; accepted for A1111)")
    add("--nowebui", action="store_true", help="serve the API alone")
    add("--api-auth", default=None, help="HTTP Basic credentials for the API, u:p[,u2:p2]")
    add("--gradio-auth", default=None, help="credentials for the UI, u:p[,u2:p2]")
    add("--insecure", action="store_true", help="allow listening on a network without any auth")
    add("--enable-insecure-extension-access", action="store_true",
        help="allow installing extensions even when reachable from other machines")
    add("--cors-allow-origins", default=None, help="comma-separated origins allowed by CORS")
    add("--cors-allow-origins-regex", default=None, help="a regular expression of origins allowed by CORS")
    add("--share", action="store_true", help="accepted for A1111 compatibility; Easel never opens a public tunnel")


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--data-dir", default=None, help="folder for all user data (settings, models, outputs)")
    add("--ckpt", default=None, help="a checkpoint file to add and select")
    add("--ckpt-dir", default=None, help="an extra folder of checkpoints")
    add("--vae-dir", default=None, help="folder of VAE files")
    add("--lora-dir", default=None, help="folder of LoRA files")
    add("--embeddings-dir", default=None, help="folder of textual-inversion embeddings")
    add("--disable-safe-unpickle", action="store_true", help="load .ckpt files with plain pickle (dangerous)")
    add("--no-hashing", action="store_true", help="skip sha256 of checkpoints")
    add("--download-sd15", action="store_true",
        help="download Stable Diffusion 1.5 (setting sd15_download_url, sha256-checked, resumable) before starting")
    add("--disable-all-extensions", action="store_true")
    add("--disable-extra-extensions", action="store_true")


def _add_device_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--use-cpu", nargs="+", default=[], help="run these parts on the CPU ('all' for everything)")
    add("--precision", choices=("full", "half", "autocast"), default=None)
    add("--no-half", action="store_true", help="keep the model in float32")
    add("--no-half-vae", action="store_true", help="keep the VAE in float32")
    add("--xformers", action="store_true", help="use xformers attention where available (CUDA)")
    add("--opt-sdp-attention", action="store_true", help="torch's scaled-dot-product attention kernel everywhere "
        "(the default, except for bf16 on the CPU, where Easel's blocked and oneDNN's fused kernels are faster)")
    add("--opt-channelslast", action="store_true",
        help="channels-last memory format for the UNet and VAE (always on for the CPU, where it is faster)")
    add("--medvram", action="store_true",
        help="A1111's VRAM saving: no effect on the CPU (said at start); not available on GPUs yet (refused)")
    add("--lowvram", action="store_true", help="as --medvram, more aggressive in A1111; the same here")
    add("--lowram", action="store_true", help="A1111: load weights to VRAM, not RAM; as --medvram here")
    add("--skip-torch-cuda-test", action="store_true")


def _add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--workers", type=int, default=None, metavar="N",
        help="run jobs on N local worker processes through Ray (one per GPU; on the CPU the cores are split)")
    add("--ray-address", default=None, metavar="ADDR",
        help="join the Ray cluster at ADDR: its nodes started with --worker run the jobs (docs/cluster.md)")
    add("--worker", action="store_true",
        help="make this machine a worker node of the Ray cluster at --ray-address (no web server here)")


def build_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webui.py", description="Easel, a Stable Diffusion web UI",
                                     add_help=add_help)
    _add_server_flags(parser)
    _add_model_flags(parser)
    _add_device_flags(parser)
    _add_cluster_flags(parser)
    from modules.cli_a1111 import add_a1111_flags

    add_a1111_flags(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
               parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse COMMANDLINE_ARGS first, then argv, so flags typed on the command line win."""
    environ = os.environ if env is None else env
    parser = parser or build_parser()
    words = shlex.split(environ.get("COMMANDLINE_ARGS", ""))
    return parser.parse_args([*words, *(argv or [])])


def parse_args_with_preload(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                            preload: Callable[[argparse.ArgumentParser, argparse.Namespace], None] | None = None
                            ) -> argparse.Namespace:
    """A1111's start-up order: a first pass reads the flags that say where extensions are and which are off
    (--data-dir, --disable-*-extensions); `preload(parser, first_pass)` lets extensions add their flags (their
    preload.py); then the real parse, so `--help` lists extensions' flags and they are accepted."""
    environ = os.environ if env is None else env
    parser = build_parser()
    if preload is not None:
        words = [*shlex.split(environ.get("COMMANDLINE_ARGS", "")), *(argv or [])]
        first, _ = build_parser(add_help=False).parse_known_args(words)
        preload(parser, first)
    return parse_args(argv, environ, parser)


def memory_saver_notice(flags: argparse.Namespace) -> str | None:
    """What A1111's VRAM-saving flags do here, for the console at start: never accepted in silence. Easel keeps the
    whole model on one device, so they change nothing on the CPU, and the first model load on a GPU refuses them.

    >>> memory_saver_notice(parse_args(["--medvram"], env={}))  # doctest: +ELLIPSIS
    '--medvram: A1111 moves the UNet, text encoder and VAE ... no effect on the CPU, and refused on a GPU ...'
    >>> memory_saver_notice(parse_args([], env={})) is None
    True
    """
    given = [f"--{name}" for name in ("medvram", "lowvram", "lowram") if getattr(flags, name, False)]
    if not given:
        return None
    return (f"{' and '.join(given)}: A1111 moves the UNet, text encoder and VAE to the GPU only while each runs, "
            "to save VRAM; Easel keeps the whole model on one device: no effect on the CPU, and refused on a GPU "
            "at the first model load (remove the flag there, or run on the CPU with --use-cpu all)")


def parse_credentials(text: str) -> list[tuple[str, str]]:
    """`u:p[,u2:p2]` → [(u, p), ...]; a password may itself contain ':'.

    >>> parse_credentials("ann:secret,bob:a:b")
    [('ann', 'secret'), ('bob', 'a:b')]
    """
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        user, sep, password = item.partition(":")
        if not sep or not user:
            raise ValueError(f"credentials must be USER:PASSWORD, got {item!r}")
        pairs.append((user, password))
    return pairs
