"""schemathesis against our OpenAPI: no 5xx, every status code documented, every body matching its schema.

Bounded: a few examples per route, generation sizes clamped to the tiny model (the schema allows 2048² × 1000
steps, which a CPU would still be computing tomorrow).
"""
from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)
from schemathesis.checks import not_a_server_error

import webui
from tests.pipeline.conftest import make_app

CLAMP = {"width": 64, "height": 64, "steps": 2, "batch_size": 1, "n_iter": 1, "hr_second_pass_steps": 0,
         "firstphase_width": 0, "firstphase_height": 0}


@pytest.fixture(scope="module")
def api_schema(tiny_checkpoint, tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("schemathesis"), tiny_checkpoint, "--nowebui")
    yield schemathesis.openapi.from_asgi("/openapi.json", webui.create_server(app))
    app.jobs.close()


def clamp(case):
    """Generation bodies shrunk to what the tiny model does in a blink (an empty body means 512², 50 steps)."""
    if isinstance(case.body, dict) and case.path.endswith(("txt2img", "img2img")):
        case.body.update(CLAMP)
        case.body["enable_hr"] = False


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def check_operation(operation) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        clamp(case)
        case.call_and_validate(checks=CHECKS, excluded_checks=[negative_data_rejection])

    run()


def test_api_conforms_to_its_schema(api_schema):
    failures, operations = [], 0
    for found in api_schema.get_all_operations():
        operation = found.ok()
        operations += 1
        start = time.monotonic()
        try:
            check_operation(operation)
        except Exception as e:  # noqa: BLE001 - every operation's failure is collected, then reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(e)[:600]}")
        assert time.monotonic() - start < 60, f"{operation.path} took {time.monotonic() - start:.0f} s"
    assert operations >= 40
    assert not failures, "\n\n".join(failures)
