"""A1111's `modules.memmon`: GPU memory figures. A1111 polls them in a thread; here `read()` asks torch when
called, which gives the same numbers (peaks are torch's own), and on a CPU-only machine all zeros."""
from __future__ import annotations

import threading


class MemUsageMonitor(threading.Thread):
    """`monitor()` resets the peaks; `read()` → dict of free/total/active/reserved/system_peak… in bytes."""

    def __init__(self, name, device, opts):
        super().__init__(name=name, daemon=True)
        self.device, self.opts = device, opts
        self.disabled = not self._cuda()
        self.data: dict[str, int] = {}

    def _cuda(self) -> bool:
        try:
            import torch

            return torch.cuda.is_available() and str(self.device).startswith("cuda")
        except ImportError:
            return False

    def run(self) -> None:
        """Nothing to poll: `read` asks torch directly."""

    def cuda_mem_get_info(self) -> tuple[int, int]:
        import torch

        index = getattr(self.device, "index", None)
        return torch.cuda.mem_get_info(index if index is not None else torch.cuda.current_device())

    def dump_debug(self) -> None:
        print(self, "read:", self.read())

    def monitor(self) -> None:
        if not self.disabled:
            import torch

            torch.cuda.reset_peak_memory_stats()

    def read(self) -> dict:
        if self.disabled:
            return dict.fromkeys(("free", "total", "active", "active_peak", "reserved", "reserved_peak", "system_peak",
                                  "min_free"), 0)
        import torch

        free, total = self.cuda_mem_get_info()
        stats = torch.cuda.memory_stats(self.device)
        self.data = {"free": free, "total": total, "active": stats["active_bytes.all.current"],
                     "active_peak": stats["active_bytes.all.peak"], "reserved": stats["reserved_bytes.all.current"],
                     "reserved_peak": stats["reserved_bytes.all.peak"], "system_peak": total - free,
                     "min_free": free}
        return self.data

    def stop(self) -> dict:
        return self.read()
