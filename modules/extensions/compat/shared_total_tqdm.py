"""A1111's `modules.shared_total_tqdm`: one console progress bar over all the steps of a job."""
from __future__ import annotations


class TotalTQDM:
    def __init__(self):
        self._tqdm = None

    def reset(self) -> None:
        import tqdm

        from modules.extensions.compat import shared

        total = max(shared.state.job_count, 1) * max(shared.state.sampling_steps, 1)
        self._tqdm = tqdm.tqdm(desc="Total progress", total=total, position=1, leave=False)

    def update(self) -> None:
        if self._tqdm is None:
            self.reset()
        self._tqdm.update()

    def updateTotal(self, new_total: int) -> None:  # noqa: N802 - A1111's name
        if self._tqdm is None:
            self.reset()
        self._tqdm.total = new_total

    def clear(self) -> None:
        if self._tqdm is not None:
            self._tqdm.refresh()
            self._tqdm.close()
            self._tqdm = None
