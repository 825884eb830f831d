"""The App: the one long-lived object. It owns settings, models, registries and the job runner; built in webui.py."""
from __future__ import annotations

import argparse
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modules.interrogate import InterrogateRequest, InterrogateResult, Interrogators, validate_model
from modules.jobs import JobQueue, JobStore
from modules.lazy import Deferred
from modules.models.weight_storage import fp8_setting
from modules.options import Options
from modules.paths import Paths
from modules.pipeline.extras import (NO_EXTRAS_HOOKS, ExtrasHooks, ExtrasRequest, ExtrasResult, run_extras_job,
                                     validate_extras)
from modules.pipeline.img2img_request import Img2ImgRequest
from modules.pipeline.img2img_request import decoded as img2img_decoded
from modules.pipeline.hooks import NO_HOOKS, RunHooks
from modules.pipeline.job import Job
from modules.pipeline.request import GenerationRequest
from modules.pipeline.result import GenerationResult
from modules.pipeline.services import PipelineServices

if TYPE_CHECKING:  # for annotations only: the cluster imports Ray, and the App is built before either is needed
    from modules.cluster.dispatcher import ClusterDispatcher
    from modules.extensions.manager import ExtensionManager

VERSION = "0.1.0"


@dataclass(frozen=True)
class JobKind:
    """A row of the job-kind table: the request type the queue stores and the pipeline function that runs it."""

    request_type: type
    run: Callable[..., Any]  # (services, request, options snapshot, job, hooks) → the kind's result


# The generation pipelines are named, not imported: they pull in torch, which the page must not wait for
# (docs/architecture.md §4).
JOB_KINDS: dict[str, JobKind] = {
    "txt2img": JobKind(GenerationRequest, Deferred("modules.pipeline.txt2img", "run_txt2img")),
    "img2img": JobKind(Img2ImgRequest, Deferred("modules.pipeline.img2img", "run_img2img")),
    "extras": JobKind(ExtrasRequest, run_extras_job),
}


@dataclass
class App:
    """Everything a request needs, passed down explicitly; nothing here is global."""

    paths: Paths
    flags: argparse.Namespace
    options: Options
    services: PipelineServices
    job_store: JobStore | None = None  # None: an in-memory queue (nothing survives a restart)
    extensions: ExtensionManager | None = None  # installed extension folders, enable, install
    # the A1111 script host (modules/extensions/compat/host.py), which runs scripts and hooks around a job; typed
    # Any because the core never imports the compatibility layer, not even for its types
    scripts: Any = None
    cluster: ClusterDispatcher | None = None  # set when jobs run on Ray workers (modules/cluster); None: here

    def __post_init__(self):
        self._run_lock = threading.Lock()
        self._current_job: Job | None = None
        self.interrogators = Interrogators(self.paths.models_dir, lambda: self.models.device_config.device,
                                           bool(getattr(self.flags, "disable_safe_unpickle", False)))
        self.jobs = JobQueue(self.job_store or JobStore(":memory:"), self._execute,
                             {**{kind: row.request_type for kind, row in JOB_KINDS.items()},
                              "interrogate": InterrogateRequest}, model_of=self.checkpoint_of)

    def checkpoint_of(self, kind: str, request) -> str | None:
        """The checkpoint a queued job will ask for (its override, else the selected one): for model affinity."""
        if kind not in ("txt2img", "img2img"):
            return None
        override = (getattr(request, "override_settings", None) or {}).get("sd_model_checkpoint")
        return str(override or self.options.get("sd_model_checkpoint") or "") or None

    @property
    def models(self):
        return self.services.models

    @property
    def current_job(self) -> Job | None:
        """The job running here, or with a cluster the one that started first on any worker."""
        return self._current_job or self.jobs.current

    def txt2img(self, request: GenerationRequest, job: Job | None = None) -> GenerationResult:
        """Run one txt2img request through the job queue and wait for it (FIFO, one worker per device)."""
        return self.jobs.run("txt2img", request, job)

    def img2img(self, request: Img2ImgRequest, job: Job | None = None) -> GenerationResult:
        """Run one img2img / inpainting request through the same queue as txt2img."""
        return self.jobs.run("img2img", img2img_decoded(request), job)

    def extras(self, request: ExtrasRequest, job: Job | None = None) -> ExtrasResult:
        """Upscale images (Extras tab, extra-single-image, extra-batch-images) as a job of the same FIFO queue as
        generations; the script host's Extras scripts postprocess each image when extensions are loaded."""
        images = validate_extras(request)  # bad input is refused before it is queued; the job gets PIL images
        request = dataclasses.replace(request, images=tuple(images))
        return self.jobs.run("extras", request, job or Job(job_count=max(len(images), 1)))

    def interrogate(self, request: InterrogateRequest) -> InterrogateResult:
        """Caption an image (CLIP or DeepBooru, modules/interrogate) as a job of the same FIFO queue."""
        validate_model(request.model)  # refused before it is queued
        return self.jobs.run("interrogate", request, Job(job_count=1))

    def snapshot_for(self, request):
        """The frozen options one job runs on: the current settings with the request's overrides."""
        return self.options.snapshot(getattr(request, "override_settings", None))

    def _execute(self, kind: str, request, job: Job) -> GenerationResult:
        """The local slot's work for one job: its options snapshot, then run."""
        return self.execute_with(kind, request, self.snapshot_for(request), job)

    def execute_with(self, kind: str, request, snapshot, job: Job) -> GenerationResult:
        """Run one job on `snapshot` (through the script host when extensions are loaded: it runs a selected script
        and the always-on hooks). A cluster worker calls this with the API server's snapshot (modules/cluster)."""
        with self._run_lock:
            self._current_job = job
            try:
                if kind == "interrogate":
                    return self.interrogators.run(request, snapshot)
                if kind == "extras":
                    hooks = self.scripts.extras_hooks() if self.scripts is not None else NO_EXTRAS_HOOKS
                    return self.run_core(kind, request, snapshot, job, hooks)
                if self.scripts is not None:
                    return self.scripts.run_job(kind, request, snapshot, job)
                return self.run_core(kind, request, snapshot, job)
            finally:
                self._current_job = None

    def warm_up(self) -> None:
        """Import what generating needs (torch, the pipelines, the sampler code, the model loader) and choose the
        device, reading no weights. webui.py runs it in the background once the page has been served: start-up
        does not wait for torch (docs/architecture.md §4), and the first Generate does not either. It holds the run
        lock, so a job
        and the warm-up never import side by side."""
        with self._run_lock:
            for row in JOB_KINDS.values():
                if isinstance(row.run, Deferred):
                    row.run.resolve()
            self.services.samplers.load_code()
            self.models.prepare()

    def run_core(self, kind: str, request, snapshot, job: Job,
                 hooks: RunHooks | ExtrasHooks = NO_HOOKS) -> GenerationResult:
        """One pipeline run, for the worker and for scripts that run several (X/Y/Z plot): no queue, no lock."""
        return JOB_KINDS[kind].run(self.services, request, snapshot, job, hooks)

    def unload_checkpoint(self) -> None:
        """Free the model's memory between jobs (waits for a running one to end)."""
        with self._run_lock:
            self.models.unload()

    def reload_checkpoint(self) -> None:
        """Load the selected checkpoint afresh from disk, between jobs."""
        with self._run_lock:
            self.models.unload()
            self.models.get(self.options.get("sd_model_checkpoint") or None, self.options.get("sd_vae"),
                            fp8_setting(self.options))

    def interrupt(self) -> None:
        job = self.current_job
        if job is not None:
            job.interrupt()

    def skip(self) -> None:
        job = self.current_job
        if job is not None:
            job.skip()
