"""Channels-last kernels (modules/models/channels_last.py): float32 1×1 convolutions run as matrix products and the
2-D transformers keep NHWC; outputs equal the stock diffusers modules' within float rounding."""
from __future__ import annotations

import torch
from torch import nn

from modules.models.channels_last import PointwiseConv2d, use_channels_last_kernels


def stock(network: nn.Module) -> list:
    """Undo the swap (each swapped class derives directly from the stock one)."""
    swapped = [(m, type(m)) for m in network.modules() if type(m).__name__ in ("PointwiseConv2d",
                                                                                "ChannelsLastTransformer2D")]
    for module, cls in swapped:
        module.__class__ = cls.__mro__[1]
    return swapped


def test_pointwise_conv_equals_conv_on_both_layouts():
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 8, 1)
    x = torch.randn(2, 16, 5, 7)  # [B, C, H, W]
    expected = conv(x)
    conv.__class__ = PointwiseConv2d
    for layout in (torch.contiguous_format, torch.channels_last):
        y = conv(x.to(memory_format=layout))
        torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-6)
    assert conv(x.to(memory_format=torch.channels_last)).is_contiguous(memory_format=torch.channels_last)


def test_loaded_fp32_cpu_model_uses_them_and_decodes_the_same(tiny_checkpoint, tmp_path):
    import webui
    from modules import cli

    app = webui.build_app(cli.parse_args(["--data-dir", str(tmp_path), "--ckpt", str(tiny_checkpoint),
                                          "--precision", "full", "--no-hashing"], env={}))
    model = app.models.get(None)
    unet, vae = model.unet, model.vae
    assert not any(type(m) is nn.Conv2d and m.kernel_size == (1, 1) for m in unet.modules())
    assert any(type(m).__name__ == "ChannelsLastTransformer2D" for m in unet.modules())
    torch.manual_seed(1)
    x, context, t = torch.randn(2, 4, 8, 8), torch.randn(2, 77, 32), torch.tensor([500.0, 20.0])
    fast_out, fast_image = model.unet_forward(x, t, context), model.decode(x[:1])
    assert stock(unet) and stock(vae) is not None
    torch.testing.assert_close(fast_out, model.unet_forward(x, t, context), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fast_image, model.decode(x[:1]), rtol=1e-4, atol=1e-5)


def test_only_float32_pointwise_convs_are_swapped():
    net = nn.Sequential(nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 1).to(torch.bfloat16))
    assert use_channels_last_kernels(net) == 1
    assert [type(m).__name__ for m in net] == ["PointwiseConv2d", "Conv2d", "Conv2d"]
