"""A data folder for one benchmark run, removed when the process exits (benchmarks save nothing)."""
import atexit
import shutil
import tempfile


def temporary_data_dir() -> str:
    """Make an empty folder for `--data-dir` that is deleted at exit, so repeated runs do not fill the disk."""
    path = tempfile.mkdtemp(prefix="easel-bench-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
