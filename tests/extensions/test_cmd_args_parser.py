"""`modules.cmd_args.parser` is A1111's parser of every flag, with what the loading extensions' preload.py added:
extensions parse the command line with it themselves (sd-webui-lora-block-weight reads `.api` in its `ui()`)."""
from __future__ import annotations

import textwrap

from tests.extensions.conftest import start, stop
from tests.pipeline.conftest import make_app

PRELOAD = '''
def preload(parser):
    parser.add_argument("--probe-flag", action="store_true", help="a flag this extension adds")
'''


def test_the_parser_knows_easels_a1111s_and_preload_flags(tmp_path, tiny_checkpoint):
    folder = tmp_path / "data" / "extensions" / "flagged"
    folder.mkdir(parents=True)
    (folder / "preload.py").write_text(textwrap.dedent(PRELOAD), encoding="utf-8")
    app = make_app(tmp_path / "data", tiny_checkpoint, "--nowebui")
    try:
        start(app, [("flagged", folder)])
        from modules import cmd_args, shared_cmd_options

        parser = cmd_args.parser
        assert shared_cmd_options.parser is parser
        args = parser.parse_args(["--api", "--probe-flag", "--xformers", "--port", "7861"])
        assert args.api is True and args.probe_flag is True and args.xformers is True and args.port == 7861
        assert parser.parse_args([]).api is False
    finally:
        app.jobs.close()
        stop(app)
