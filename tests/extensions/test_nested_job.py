"""A script's several process_images runs add up in one job's progress."""
from modules.extensions.compat.nested_job import PassCounter
from modules.pipeline.job import Job


def test_runs_follow_each_other_and_the_scripts_total_is_kept():
    job, counter = Job(), PassCounter()
    job.job_count = 6  # the script's shared.state.job_count: 3 cells × 2 batches
    for cell in range(3):
        nested = counter.wrap(job)
        nested.job_count = 2  # what the core sets for its own run
        for n in range(2):
            nested.begin_pass(n, 10, f"cell {cell}")
            assert job.job_no == cell * 2 + n and job.job_count == 6
        counter.finished(nested)
    nested = counter.wrap(job)
    nested.job_count = 2  # a fourth run the script did not announce: the total grows
    assert job.job_count == 8
    nested.interrupt()
    assert job.interrupted and nested.interrupted
    counter.forget(job)
    assert counter.wrap(job)._offset == 0


def test_xyz_progress_counts_every_cell(tmp_path, tiny_checkpoint):
    """X/Y/Z with 4 cells: the job's passes run 0..3 of a total of 4, as the plot announced."""
    from modules.pipeline.request import GenerationRequest
    from tests.extensions.conftest import stop
    from tests.extensions.test_builtin_xyz import CFG, STEPS, xyz_args
    from tests.pipeline.conftest import make_app

    app = make_app(tmp_path, tiny_checkpoint)
    seen = []
    job = Job()
    original = job.begin_pass
    job.begin_pass = lambda no, steps, text="": (seen.append((no, job.job_count)), original(no, steps, text))
    try:
        app.txt2img(GenerationRequest(prompt="a", steps=1, width=64, height=64, seed=1, script_name="X/Y/Z plot",
                                      script_args=xyz_args(STEPS, "1-2", CFG, "5, 7")), job)
    finally:
        stop(app)
    assert [no for no, _ in seen] == [0, 1, 2, 3] and all(count == 4 for _, count in seen)
