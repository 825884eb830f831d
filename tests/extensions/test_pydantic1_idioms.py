"""Extensions' own models written for pydantic 1 (A1111 1.10's) load under pydantic 2
(modules/extensions/compat/pydantic1.py): `Model.__config__` exists to derive a `Config` from, and an Optional field
without a default is optional (None), for classes in an extension's files only."""
from __future__ import annotations

import importlib.util
import sys

import pytest
from pydantic import BaseModel, ValidationError

from modules.extensions.compat import pydantic1
from modules.extensions.compat.reporting import register_extension_folder

MODELS = '''
from typing import Optional
from pydantic import BaseModel, Field


class Record(BaseModel):
    id: str
    name: Optional[str] = Field(title="Name")
    note: Optional[str]
    size: int | None = Field(title="Size")

    class Config(BaseModel.__config__):
        pass


class Named(Record):
    class Config(Record.__config__):
        pass
'''


@pytest.fixture
def shim():
    pydantic1.install_pydantic1_shim()
    yield
    pydantic1.uninstall_pydantic1_shim()


def load(folder, name: str):
    file = folder / f"{name}.py"
    file.write_text(MODELS, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def test_an_extensions_pydantic_1_model_loads_and_builds(shim, tmp_path):
    folder = tmp_path / "extensions" / "queue-ext"
    folder.mkdir(parents=True)
    register_extension_folder(folder, "queue-ext")
    models = load(folder, "queue_ext_models")
    record = models.Named(id="a")
    assert (record.name, record.note, record.size) == (None, None, None)
    with pytest.raises(ValidationError):
        models.Named()  # a field without Optional stays required


def test_models_outside_extensions_keep_pydantic_2s_rules(shim, tmp_path):
    with pytest.raises(ValidationError):
        load(tmp_path, "not_an_extension").Record(id="a")


def test_uninstalled_shim_leaves_pydantic_as_shipped(tmp_path):
    pydantic1.install_pydantic1_shim()
    pydantic1.uninstall_pydantic1_shim()
    assert not hasattr(BaseModel, "__config__")
