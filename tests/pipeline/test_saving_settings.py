"""A1111's saving settings shape where Easel's own runs save and under which names: the file name and folder
patterns, the running number, the grid's name, the encoder settings, the .txt copy, the shared output folders, and
the command line's file name rules. Each run here saves for real into the app's data dir."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from modules import cli
from modules.errors import InvalidInput
from modules.pipeline.request import GenerationRequest
from tests.pipeline.conftest import make_app

BASE: dict[str, Any] = dict(prompt="a red: circle", negative_prompt="blue", steps=1, width=64, height=64, seed=7,
            sampler_name="Euler", save_images=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_checkpoint):
    app = make_app(tmp_path_factory.mktemp("saving"), tiny_checkpoint)
    yield app
    app.jobs.close()


def saved(app, **settings) -> list:
    """The paths of one run's saved files (images, then the grid), relative to the data dir."""
    result = app.txt2img(GenerationRequest(**BASE, override_settings=settings))
    paths = [*result.saved_paths, *([result.grid_path] if result.grid_path else [])]
    return [p.relative_to(app.paths.data_dir).as_posix() for p in paths]


def test_defaults_are_a1111s_date_folder_number_and_seed(app):
    today = date.today().isoformat()
    [path] = saved(app)
    assert path.startswith(f"outputs/txt2img-images/{today}/") and path.endswith("-7.png")


def test_file_name_pattern_and_folder_pattern(app):
    result = app.txt2img(GenerationRequest(**BASE, override_settings={
        "samples_filename_pattern": "[seed]-[steps]-[prompt_words]",
        "directories_filename_pattern": "[model_name]/[sampler]"}))
    path = result.saved_paths[0].relative_to(app.paths.data_dir).as_posix()
    folder, name = path.rsplit("/", 1)
    assert folder == f"outputs/txt2img-images/{result.info['sd_model_name']}/Euler"
    assert name.split("-", 1)[1] == "7-1-a red circle.png"


def test_without_subfolders_the_prompt_joins_the_name_made_safe(app):
    [path] = saved(app, save_to_dirs=False)
    assert path.startswith("outputs/txt2img-images/0") and path.endswith("-7-a red_ circle.png")


def test_no_number_replaces_or_numbers_an_existing_file(app):
    first = saved(app, save_images_add_number=False, samples_filename_pattern="fixed-[seed]", save_to_dirs=False)
    again = saved(app, save_images_add_number=False, samples_filename_pattern="fixed-[seed]", save_to_dirs=False)
    assert first == again == ["outputs/txt2img-images/fixed-7.png"]
    kept = saved(app, save_images_add_number=False, samples_filename_pattern="fixed-[seed]", save_to_dirs=False,
                 save_images_replace_action="Add number suffix")
    assert kept == ["outputs/txt2img-images/fixed-7-1.png"]


def test_save_txt_quality_and_shared_folders(app):
    [path] = saved(app, save_txt=True, outdir_samples="everything")
    text = (app.paths.data_dir / path).with_suffix(".txt").read_text(encoding="utf8")
    assert path.startswith("everything/") and text.startswith("a red: circle\nNegative prompt: blue\n")
    low = saved(app, samples_format="jpg", jpeg_quality=5)[0]
    high = saved(app, samples_format="jpg", jpeg_quality=95)[0]
    assert (app.paths.data_dir / low).stat().st_size < (app.paths.data_dir / high).stat().st_size


def test_grid_names_and_folders(app):
    result = app.txt2img(GenerationRequest(**{**BASE, "batch_size": 2}, override_settings={
        "grid_extended_filename": True, "grid_save_to_dirs": False}))
    name = result.grid_path.relative_to(app.paths.data_dir).as_posix()
    assert name.startswith("outputs/txt2img-grids/grid-") and name.endswith("-7.png")


def test_a_folder_pattern_that_climbs_out_is_refused(app):
    with pytest.raises(InvalidInput, match="directories_filename_pattern"):
        saved(app, directories_filename_pattern="../../escaped")
    assert not (app.paths.data_dir.parent / "escaped").exists()


def test_command_line_file_name_rules(tmp_path, tiny_checkpoint):
    import webui

    flags = cli.parse_args(["--unix-filenames-sanitization", "--filenames-max-length", "5"], env={})
    rules = webui.filename_rules(flags)
    assert rules.sanitize("a:b?c/defgh") == "a:b?c"
    other = make_app(tmp_path, tiny_checkpoint, "--unix-filenames-sanitization")
    try:
        result = other.txt2img(GenerationRequest(**BASE, override_settings={"save_to_dirs": False}))
    finally:
        other.jobs.close()
    assert result.saved_paths[0].name.endswith("-7-a red: circle.png")
