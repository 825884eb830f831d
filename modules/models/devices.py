"""Device, precision and attention choice: a pure function of the flags and the hardware facts.

A1111's rules: `--use-cpu all` forces the CPU; `--precision full` and `--no-half` keep the model in
float32; `--no-half-vae` keeps the VAE in float32. Our default precision is fp16 on CUDA and MPS, bf16 on CPUs with
fast bf16 (AMX or AVX512-BF16: about 3x faster than fp32 there), fp32 on other CPUs.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

import torch

from modules.errors import EaselError
from modules.models.onednn_attention import onednn_graph_available

FAST_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
CPU_SD_PARTS = frozenset({"all", "sd"})


@dataclass(frozen=True)
class HardwareFacts:
    """What the machine offers; `detect_hardware()` fills it, tests make it up."""

    cuda: bool = False
    mps: bool = False
    cpu_capability: str = ""
    cpu_flags: frozenset[str] = frozenset()
    xformers_installed: bool = False
    onednn_graph: bool = False  # torch can fuse attention through oneDNN Graph (modules/models/onednn_attention.py)

    @property
    def fast_cpu_bf16(self) -> bool:
        return bool(self.cpu_flags & FAST_BF16_CPU_FLAGS) or "AMX" in self.cpu_capability.upper()


@dataclass(frozen=True)
class DeviceFlags:
    """The command-line flags that decide devices (names as in A1111 / `modules.cli`)."""

    use_cpu: tuple[str, ...] = ()
    precision: str | None = None  # "full" | "half" | "autocast" | None
    no_half: bool = False
    no_half_vae: bool = False
    xformers: bool = False
    sdp_attention: bool = False  # --opt-sdp-attention: torch's SDPA kernel even where oneDNN's fused one is faster
    channels_last: bool = False  # --opt-channelslast
    memory_savers: tuple[str, ...] = ()  # of --medvram, --lowvram, --lowram: the ones given

    @classmethod
    def from_namespace(cls, ns) -> DeviceFlags:
        return cls(use_cpu=tuple(getattr(ns, "use_cpu", None) or ()), precision=getattr(ns, "precision", None),
                   no_half=bool(getattr(ns, "no_half", False)), no_half_vae=bool(getattr(ns, "no_half_vae", False)),
                   xformers=bool(getattr(ns, "xformers", False)),
                   sdp_attention=bool(getattr(ns, "opt_sdp_attention", False)),
                   channels_last=bool(getattr(ns, "opt_channelslast", False)),
                   memory_savers=tuple(f"--{name}" for name in ("medvram", "lowvram", "lowram")
                                       if getattr(ns, name, False)))


@dataclass(frozen=True)
class DeviceConfig:
    """Where and in which dtypes the model runs; `notes` say why, for the console."""

    device: str = "cpu"
    dtype: torch.dtype = torch.float32  # UNet and text encoder
    vae_dtype: torch.dtype = torch.float32
    attention: str = "sdpa"  # "sdpa" | "xformers" | "onednn"
    channels_last: bool = False  # UNet and VAE convolution weights in NHWC
    notes: tuple[str, ...] = field(default=(), compare=False)


def choose_device_config(flags: DeviceFlags, hw: HardwareFacts) -> DeviceConfig:
    """Pure: the DeviceConfig for these flags on this hardware.

    >>> choose_device_config(DeviceFlags(), HardwareFacts(cuda=True)).dtype
    torch.float16
    >>> choose_device_config(DeviceFlags(), HardwareFacts(cpu_flags=frozenset({"avx512_bf16"}))).dtype
    torch.bfloat16
    >>> zen4 = HardwareFacts(cpu_flags=frozenset({"avx512_bf16"}), onednn_graph=True)
    >>> [choose_device_config(DeviceFlags(sdp_attention=f), zen4).attention for f in (False, True)]
    ['onednn', 'sdpa']
    >>> gpu = HardwareFacts(cuda=True)
    >>> [choose_device_config(DeviceFlags(channels_last=f), gpu).channels_last for f in (False, True)]
    [False, True]
    """
    notes = []
    if CPU_SD_PARTS & {p.lower() for p in flags.use_cpu}:
        device = "cpu"
    else:
        device = "cuda" if hw.cuda else "mps" if hw.mps else "cpu"
    notes += memory_saver_notes(flags.memory_savers, device)
    if device == "cpu":
        half = torch.bfloat16 if hw.fast_cpu_bf16 or flags.precision == "half" else torch.float32
    else:
        half = torch.float16
    full = flags.precision == "full" or flags.no_half
    dtype = torch.float32 if full else half
    vae_dtype = torch.float32 if flags.no_half_vae or full else dtype
    if device == "cpu" and dtype == torch.float32 and not full:
        notes.append("this CPU has no fast bf16 (AMX / AVX512-BF16): running in float32")
    attention = "sdpa"
    if flags.xformers:
        if device == "cuda" and hw.xformers_installed:
            attention = "xformers"
        else:
            notes.append("--xformers ignored: it needs CUDA and the xformers package; using torch SDPA")
    elif device == "cpu" and dtype == torch.bfloat16 and hw.fast_cpu_bf16 and hw.onednn_graph \
            and not flags.sdp_attention:  # measured where bf16 is native (AVX512-BF16); untried elsewhere
        attention = "onednn"  # 1.18× per bf16 UNet call (modules/models/onednn_attention.py)
        notes.append("attention: blocked and oneDNN fused kernels for bf16 (--opt-sdp-attention keeps torch's)")
    # CPU: channels-last always (oneDNN convolutions are NHWC-native; faster in bf16 and fp32 alike); elsewhere
    # A1111's opt-in --opt-channelslast.
    channels_last = device == "cpu" or bool(flags.channels_last)
    return DeviceConfig(device=device, dtype=dtype, vae_dtype=vae_dtype, attention=attention,
                        channels_last=channels_last, notes=tuple(notes))


def memory_saver_notes(savers: tuple[str, ...], device: str) -> list[str]:
    """A1111's VRAM-saving flags: said to do nothing on the CPU (the weights are in system memory already);
    refused on a GPU, where Easel does not move model parts between devices yet — never silently ignored.

    >>> memory_saver_notes(("--medvram",), "cpu")
    ['--medvram has no effect on the CPU: the model is in system memory already']
    >>> memory_saver_notes(("--lowvram",), "cuda")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    modules.errors.EaselError: --lowvram is not available on cuda yet: ...
    """
    if not savers:
        return []
    names = " and ".join(savers)
    if device == "cpu":
        verb = "have" if len(savers) > 1 else "has"
        return [f"{names} {verb} no effect on the CPU: the model is in system memory already"]
    raise EaselError(f"{names} {'are' if len(savers) > 1 else 'is'} not available on {device} yet: Easel keeps "
                     "the whole model on the GPU; remove the flag (or use --use-cpu all)")


def read_cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        return frozenset()  # not Linux: the capability string still tells about AMX
    return frozenset()


def detect_hardware() -> HardwareFacts:
    """The facts of this machine (the only impure part of device selection)."""
    mps = getattr(torch.backends, "mps", None)
    return HardwareFacts(
        cuda=torch.cuda.is_available(),
        mps=bool(mps and mps.is_available()),
        cpu_capability=str(torch.backends.cpu.get_cpu_capability()),
        cpu_flags=read_cpu_flags(),
        xformers_installed=importlib.util.find_spec("xformers") is not None,
        onednn_graph=onednn_graph_available(),
    )
