"""The A1111 sampler settings Easel acts on: A1111's keys and defaults, and bad values refused naming the key."""
import pytest

from modules.errors import InvalidInput
from modules.extensions.compat.a1111_defaults import A1111_DEFAULTS
from modules.options import Options
from modules.options.table import SETTINGS

KEYS = ("sgm_noise_multiplier", "uni_pc_variant", "uni_pc_skip_type", "uni_pc_order", "uni_pc_lower_order_final",
        "skip_early_cond", "sd_noise_schedule", "use_downcasted_alpha_bar", "ddim_discretize")


def test_rows_carry_a1111s_keys_defaults_and_sections():
    rows = {s.key: s for s in SETTINGS}
    assert {k: rows[k].default for k in KEYS} == {k: A1111_DEFAULTS[k] for k in KEYS}
    assert {rows[k].section for k in KEYS} == {"Sampler parameters", "Compatibility"}
    assert rows["use_downcasted_alpha_bar"].section == "Compatibility" and not any(rows[k].hidden for k in KEYS)


@pytest.mark.parametrize("key, value, message", [
    ("sgm_noise_multiplier", "yes", "expected bool"),
    ("uni_pc_variant", "vary_coeff", "unknown value 'vary_coeff' \\(valid: bh1, bh2\\)"),
    ("uni_pc_skip_type", "karras", "valid: time_uniform, time_quadratic, logSNR"),
    ("uni_pc_order", 51, "above 50"),
    ("skip_early_cond", -0.1, "below 0"),
    ("sd_noise_schedule", "ZTSNR", "valid: Default, Zero Terminal SNR"),
    ("use_downcasted_alpha_bar", "on", "expected bool"),
    ("ddim_discretize", "quad", "unknown value 'quad' \\(valid: uniform\\)"),
])
def test_bad_values_are_refused_naming_the_key(tmp_path, key, value, message):
    with pytest.raises(InvalidInput, match=f"{key}: .*{message}"):
        Options(tmp_path / "config.json").set(key, value)
