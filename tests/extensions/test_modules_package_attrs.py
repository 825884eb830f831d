"""A1111's modules are attributes of the `modules` package, as they were once A1111 had imported them all before
loading extensions: a script that does `import modules` and then reads `modules.shared_items.…` or
`modules.sd_models.…` without importing those itself works."""
from __future__ import annotations

import sys

import pytest

import modules
from modules.extensions.compat import install_aliases, modules_getattr


@pytest.fixture
def aliased():
    install_aliases()
    yield sys.modules["modules"]


@pytest.mark.parametrize("name", ["shared_items", "sd_models", "sd_vae", "shared"])
def test_a1111_module_read_as_attribute(aliased, monkeypatch, name):
    monkeypatch.delitem(vars(aliased), name, raising=False)  # as if no import of it had set the attribute yet
    module = getattr(modules, name)
    assert module is sys.modules[f"modules.{name}"]


def test_absent_module_is_an_attribute_that_explains_itself(aliased, monkeypatch):
    monkeypatch.delitem(vars(aliased), "sd_hijack_clip", raising=False)
    with pytest.raises(AttributeError, match="Easel has no modules.sd_hijack_clip"):
        modules.sd_hijack_clip.FrozenCLIPEmbedderWithCustomWords  # noqa: B018


def test_other_names_are_still_missing(aliased):
    assert not hasattr(modules, "no_such_a1111_module")
    with pytest.raises(AttributeError):
        modules_getattr("__path_hooks__")
