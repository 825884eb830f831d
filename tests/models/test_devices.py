"""Device / precision / attention selection from flags and made-up hardware facts."""
import argparse

import pytest
import torch

from modules.models.devices import DeviceFlags, HardwareFacts, choose_device_config, detect_hardware, read_cpu_flags

BF16_CPU = HardwareFacts(cpu_capability="AVX512", cpu_flags=frozenset({"avx512f", "avx512_bf16"}))
AMX_CPU = HardwareFacts(cpu_capability="AVX512_AMX")
OLD_CPU = HardwareFacts(cpu_capability="AVX2", cpu_flags=frozenset({"avx2"}))
CUDA = HardwareFacts(cuda=True, cpu_capability="AVX2", xformers_installed=True)


@pytest.mark.parametrize("flags, hw, device, dtype, vae_dtype", [
    (DeviceFlags(), BF16_CPU, "cpu", torch.bfloat16, torch.bfloat16),
    (DeviceFlags(), AMX_CPU, "cpu", torch.bfloat16, torch.bfloat16),
    (DeviceFlags(), OLD_CPU, "cpu", torch.float32, torch.float32),
    (DeviceFlags(), CUDA, "cuda", torch.float16, torch.float16),
    (DeviceFlags(), HardwareFacts(mps=True), "mps", torch.float16, torch.float16),
    (DeviceFlags(use_cpu=("all",)), CUDA, "cpu", torch.float32, torch.float32),
    (DeviceFlags(use_cpu=("SD",)), BF16_CPU, "cpu", torch.bfloat16, torch.bfloat16),
    (DeviceFlags(use_cpu=("esrgan",)), CUDA, "cuda", torch.float16, torch.float16),
    (DeviceFlags(precision="full"), CUDA, "cuda", torch.float32, torch.float32),
    (DeviceFlags(no_half=True), BF16_CPU, "cpu", torch.float32, torch.float32),
    (DeviceFlags(no_half_vae=True), CUDA, "cuda", torch.float16, torch.float32),
    (DeviceFlags(no_half_vae=True), BF16_CPU, "cpu", torch.bfloat16, torch.float32),
    (DeviceFlags(precision="half"), OLD_CPU, "cpu", torch.bfloat16, torch.bfloat16),
])
def test_device_and_precision(flags, hw, device, dtype, vae_dtype):
    config = choose_device_config(flags, hw)
    assert (config.device, config.dtype, config.vae_dtype) == (device, dtype, vae_dtype)


def test_attention_choice():
    assert choose_device_config(DeviceFlags(), CUDA).attention == "sdpa"
    assert choose_device_config(DeviceFlags(xformers=True), CUDA).attention == "xformers"
    cpu = choose_device_config(DeviceFlags(xformers=True), BF16_CPU)
    assert cpu.attention == "sdpa" and any("xformers" in n for n in cpu.notes)
    no_pkg = choose_device_config(DeviceFlags(xformers=True), HardwareFacts(cuda=True))
    assert no_pkg.attention == "sdpa"


def test_flags_from_cli_namespace():
    ns = argparse.Namespace(use_cpu=["all"], precision="full", no_half=False, no_half_vae=True, xformers=False)
    assert DeviceFlags.from_namespace(ns) == DeviceFlags(("all",), "full", False, True, False)
    assert DeviceFlags.from_namespace(argparse.Namespace()) == DeviceFlags()


def test_cpu_flags_parsing_and_detection(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 amx_tile\n")
    assert read_cpu_flags(str(info)) == {"fpu", "avx512_bf16", "amx_tile"}
    assert read_cpu_flags(str(tmp_path / "missing")) == frozenset()
    assert isinstance(detect_hardware().cpu_capability, str)


def test_channels_last_on_the_cpu_and_opt_in_elsewhere():
    assert choose_device_config(DeviceFlags(), BF16_CPU).channels_last
    assert choose_device_config(DeviceFlags(), OLD_CPU).channels_last
    assert not choose_device_config(DeviceFlags(), CUDA).channels_last
    assert choose_device_config(DeviceFlags(channels_last=True), CUDA).channels_last
    assert DeviceFlags.from_namespace(argparse.Namespace(opt_channelslast=True)).channels_last


def test_vram_flags_are_said_on_the_cpu_and_refused_on_a_gpu():
    from modules import cli
    from modules.errors import EaselError

    flags = DeviceFlags.from_namespace(cli.parse_args(["--medvram", "--lowram"], env={}))
    assert flags.memory_savers == ("--medvram", "--lowram")
    config = choose_device_config(flags, HardwareFacts())
    assert any("--medvram and --lowram have no effect on the CPU" in note for note in config.notes)
    with pytest.raises(EaselError, match="not available on cuda"):
        choose_device_config(flags, HardwareFacts(cuda=True))
    bf16_cpu = HardwareFacts(cpu_flags=frozenset({"avx512_bf16"}))
    assert choose_device_config(DeviceFlags(), bf16_cpu).notes == ()
