import webui
from modules import cli


def flags(*argv):
    return cli.parse_args(list(argv), env={})


def test_loopback_needs_no_auth():
    assert webui.check_exposure(flags()) is None
    assert webui.check_exposure(flags("--server-name", "127.0.0.2")) is None


def test_listen_without_auth_refuses_and_says_how():
    message = webui.check_exposure(flags("--listen"))
    assert "--api-auth USER:PASSWORD" in message and "--gradio-auth" in message and "--insecure" in message
    assert webui.check_exposure(flags("--listen", "--api-auth", "a:b", "--gradio-auth", "a:b")) is None
    assert webui.check_exposure(flags("--listen", "--insecure")) is None
    assert webui.check_exposure(flags("--server-name", "0.0.0.0", "--nowebui", "--api-auth", "a:b")) is None


def test_commandline_args_env_then_argv():
    parsed = cli.parse_args(["--port", "9000"], env={"COMMANDLINE_ARGS": "--port 8000 --no-half"})
    assert parsed.port == 9000 and parsed.no_half


def test_data_dir_moves_user_data(tmp_path):
    paths = webui.build_paths(flags("--data-dir", str(tmp_path)))
    assert paths.config_json == tmp_path / "config.json"
    assert paths.checkpoint_dir == tmp_path / "models" / "Stable-diffusion"
    assert paths.builtin_checkpoint_dir in paths.checkpoint_dirs
