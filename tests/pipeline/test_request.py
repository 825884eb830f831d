import pytest

from modules.errors import InvalidInput
from modules.pipeline.request import GenerationRequest, validate_request


@pytest.mark.parametrize("changes, field, text", [
    ({"width": 500}, "width", "multiple of 8"),
    ({"height": 7}, "height", "out of range"),
    ({"steps": 0}, "steps", "out of range"),
    ({"cfg_scale": 0.5}, "cfg_scale", "too small"),
    ({"batch_size": 0}, "batch_size", "out of range"),
    ({"width": "512"}, "width", "whole number"),
    ({"prompt": 5}, "prompt", "expected text"),
    ({"subseed_strength": 2.0}, "subseed_strength", "above 1"),
    ({"eta": -1.0}, "eta", "too small"),
    ({"seed_resize_from_w": 100_000}, "seed_resize_from_w", "out of range"),
])
def test_bad_values_name_the_field(changes, field, text):
    with pytest.raises(InvalidInput) as err:
        validate_request(GenerationRequest(**changes))
    assert err.value.field == field
    assert text in str(err.value)


def test_defaults_are_valid_and_frozen():
    req = GenerationRequest(override_settings={"a": 1})
    validate_request(req)
    assert req.sampler_name == "Euler" and req.steps == 50
    with pytest.raises(TypeError):
        req.override_settings["b"] = 2
    assert req.replace(steps=5).steps == 5
