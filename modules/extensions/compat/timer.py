"""A1111's `modules.timer`: named durations of start-up steps, as extensions record and print them."""
from __future__ import annotations

import time


class TimerSubcategory:
    def __init__(self, timer: Timer, category: str):
        self.timer, self.category, self.start = timer, category, None

    def __enter__(self):
        self.start = time.time()
        self.timer.base_category = self.category + "/"
        self.timer.subcategory_level += 1
        return self

    def __exit__(self, *exc):
        self.timer.base_category = self.timer.base_category[:-len(self.category) - 1]
        self.timer.subcategory_level -= 1
        self.timer.add_time_to_record(self.category, time.time() - self.start)


class Timer:
    """`record(name)` adds the time since the last record under `name`; `summary()` lists them."""

    def __init__(self, print_log: bool = False):
        self.start = time.time()
        self.records: dict[str, float] = {}
        self.total = 0.0
        self.base_category = ""
        self.print_log = print_log
        self.subcategory_level = 0

    def elapsed(self) -> float:
        end = time.time()
        res, self.start = end - self.start, end
        return res

    def add_time_to_record(self, category: str, amount: float) -> None:
        self.records[category] = self.records.get(category, 0.0) + amount

    def record(self, category: str, extra_time: float = 0, disable_log: bool = False) -> None:
        spent = self.elapsed()
        self.add_time_to_record(self.base_category + category, spent + extra_time)
        self.total += spent + extra_time
        if self.print_log and not disable_log:
            print(f"{'  ' * self.subcategory_level}{category}: done in {spent + extra_time:.3f}s")

    def subcategory(self, name: str) -> TimerSubcategory:
        self.elapsed()
        return TimerSubcategory(self, name)

    def summary(self) -> str:
        res = f"{self.total:.1f}s"
        parts = [f"{name}: {t:.1f}s" for name, t in self.records.items() if t >= 0.1 and "/" not in name]
        return f"{res} ({', '.join(parts)})" if parts else res

    def dump(self) -> dict:
        return {"total": self.total, "records": self.records}

    def reset(self) -> None:
        self.__init__(self.print_log)


startup_timer = Timer()
startup_record = None
