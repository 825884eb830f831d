"""One run's prompt side before conditioning (A1111's order): styles, then extra-network tags — LoRAs patched
into the model for each batch and restored when the run ends — and textual-inversion bookkeeping, with the
warnings and infotext entries (`Lora hashes`, `TI hashes`) they produce.

A LoRA or embedding that is missing or unusable never stops a generation (as in A1111): it becomes a warning in
the result and in the infotext. A LoRA file that is there but malformed is an error naming the file.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from modules.errors import InvalidInput, NotFound
from modules.pipeline.params import RunFacts
from modules.pipeline.seeds import ImagePlan
from modules.prompts.extra_networks import ExtraNetworkParams, parse_extra_networks_batch

log = logging.getLogger(__name__)

LORA_KINDS = ("lora", "lyco")  # `<lyco:…>` is A1111's alias from the LyCORIS extension days
UNSUPPORTED_KINDS = {"hypernet": "hypernetworks are not supported"}
_INFOTEXT_UNSAFE = str.maketrans("", "", ":,")  # A1111 drops these from names in hash lists


def styled_prompts(styles, prompt: str, negative_prompt: str, names: Sequence[str]) -> tuple[str, str]:
    """The prompts with the request's styles applied, in order (the first one innermost).

    The styles file is read again first, so a style edited elsewhere (UI, API, by hand) is what runs. An unknown
    style is NotFound listing the valid names.
    """
    if not names:
        return prompt, negative_prompt
    if styles is None:
        raise NotFound(f"style {names[0]!r} not found (no styles are available)")
    if styles.path.is_file():
        styles.reload()
    return (styles.apply_styles_to_prompt(prompt, list(names)),
            styles.apply_negative_styles_to_prompt(negative_prompt, list(names)))


@dataclass(frozen=True)
class LoraRequest:
    """One `<lora:name:te:unet>` tag: the name as written and its two multipliers."""

    name: str
    te: float
    unet: float


def _number(text: str, tag: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInput("prompt", f"{tag}: {what} {text!r} is not a number", "a number such as 0.8") from None


def lora_request(params: ExtraNetworkParams, kind: str = "lora") -> LoraRequest:
    """A1111's reading of a tag's arguments: te = 2nd positional or `te=` (default 1), unet = 3rd or `unet=`
    (default te).

    >>> from modules.prompts.extra_networks import parse_extra_networks
    >>> [lora_request(p) for p in parse_extra_networks("<lora:a> <lora:b:0.5> <lora:c:1:0> <lora:d:te=0.2>")[1]["lora"]]
    ... # doctest: +NORMALIZE_WHITESPACE
    [LoraRequest(name='a', te=1.0, unet=1.0), LoraRequest(name='b', te=0.5, unet=0.5),
     LoraRequest(name='c', te=1.0, unet=0.0), LoraRequest(name='d', te=0.2, unet=0.2)]
    """
    tag = f"<{kind}:{':'.join(params.items)}>"
    positional = params.positional
    if not positional:
        raise InvalidInput("prompt", f"{tag} names no LoRA", "<lora:NAME:WEIGHT>")
    te = _number(positional[1], tag, "te weight") if len(positional) > 1 else 1.0
    te = _number(params.named["te"], tag, "te weight") if "te" in params.named else te
    unet = _number(positional[2], tag, "unet weight") if len(positional) > 2 else te
    unet = _number(params.named["unet"], tag, "unet weight") if "unet" in params.named else unet
    return LoraRequest(positional[0], te, unet)


class NetworkRun:
    """Owned by one run: activates each batch's LoRAs on the model, notes what the prompts used, and restores the
    model's weights on exit (so nothing leaks into the next job, whatever its kind)."""

    def __init__(self, services, model, opts):
        self.models, self.library, self.model = services.models, services.loras, model
        self.embeddings = services.embeddings
        self.add_lora_hashes = bool(opts.get("lora_add_hashes_to_infotext", True))
        self.add_ti_hashes = bool(opts.get("textual_inversion_add_hashes_to_infotext", True))
        self.warnings: list[str] = []
        self.lora_hashes: dict[str, str] = {}
        self.ti_hashes: dict[str, str] = {}
        self.not_found: dict[str, list[str]] = {}  # infotext key → names
        self._found: dict[str, object] = {}  # name → LoraInfo | None, so a name is looked up once per run
        self._batch_loras: list = []  # the current batch's (network, te, unet), for `activate_second_pass`
        self._active: list = []  # what the pass running now has (the batch's or the hires prompt's)

    def __enter__(self) -> NetworkRun:
        return self

    def __exit__(self, *exc) -> None:
        self.models.restore_weights()  # whichever model carries them: the main one, or a hires checkpoint

    def _warn(self, message: str, key: str | None = None, name: str | None = None) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning(message)
        if key and name is not None and name not in self.not_found.setdefault(key, []):
            self.not_found[key].append(name)

    def activate(self, batch: ImagePlan) -> None:
        """Patch in the LoRAs of the batch's first prompt (A1111: one set per batch) and note its embeddings."""
        stripped, self._batch_loras = self._loras_of(batch.prompts)
        self._active = self._batch_loras
        for message in self.models.apply_loras(self.model, self._batch_loras):
            self._warn(message)
        self._note_embeddings(list(stripped) + list(batch.negative_prompts))

    def activate_second_pass(self, model, hires: ImagePlan | None) -> None:
        """Before hires fix's second pass, as A1111 does: patch the LoRAs of the hires prompts (`hires`: the batch
        with its hires prompts; None when the request has none, which keeps the batch's LoRAs) into `model`, the
        main model or a hires checkpoint, whichever runs the pass. The next `activate` puts the batch's back."""
        loras = self._batch_loras
        if hires is not None:
            stripped, loras = self._loras_of(hires.prompts)
            self._note_embeddings(stripped + list(hires.negative_prompts))
        self._active = loras
        for message in self.models.apply_loras(model, loras):
            self._warn(message)

    def activate_refiner(self, model) -> None:
        """When the refiner takes over a pass: the pass's LoRAs patch it too, as A1111's Lora extension patches
        whatever model runs. One made for another family (an SDXL LoRA on the SDXL refiner) is left out with a
        warning rather than applied in part (modules/models/lora_family.py)."""
        from modules.models.lora_family import check_family

        table, fitting = model.lora_module_map(), []
        for entry in self._active:
            try:
                check_family(entry[0], table)
            except InvalidInput:
                self._warn(f"<lora:{entry[0].info.name}> was made for another model family than the refiner "
                           f"{model.checkpoint.name}: the refiner ran without it")
                continue
            fitting.append(entry)
        for message in self.models.apply_loras(model, fitting):
            self._warn(message)

    def _loras_of(self, prompts: Sequence[str]) -> tuple[list[str], list[tuple]]:
        """The prompts without their tags, and the (network, te, unet) of the first prompt's LoRAs (A1111 uses
        one prompt's per batch); other tag kinds become warnings."""
        stripped, networks = parse_extra_networks_batch(prompts)
        loras = []
        for kind, params_list in networks.items():
            if kind in LORA_KINDS:
                loras += [self._load(lora_request(p, kind)) for p in params_list]
            else:
                reason = UNSUPPORTED_KINDS.get(kind, "unknown extra network kind")
                self._warn(f"<{kind}:…> ignored: {reason}", "Extra networks ignored", kind)
        return list(stripped), [(net, r.te, r.unet) for net, r in (e for e in loras if e is not None)]

    def check_families(self, plan, batches: int, hires_prompt: str = "") -> None:
        """Refuse, before the first batch runs, a LoRA of another family than the model in any batch's prompt or
        the hires prompt, so a job runs whole or not at all (`activate` would only meet it at its own batch)."""
        from modules.models.lora_family import check_family

        table = None
        for prompts in [plan.batch(n).prompts for n in range(batches)] + ([[hires_prompt]] if hires_prompt else []):
            _, networks = parse_extra_networks_batch(prompts)
            for kind, params_list in networks.items():
                if kind not in LORA_KINDS:
                    continue
                for request in (lora_request(p, kind) for p in params_list):
                    info = self._find(request.name) if request.te or request.unet else None
                    if info is not None:  # one not found is reported by `activate`, in its own batch
                        table = self.model.lora_module_map() if table is None else table
                        check_family(self.library.load(info), table)

    def _find(self, name: str):
        """The LoraInfo of `name`, or None; looked up once per run."""
        if name not in self._found:
            self._found[name] = self.library.find(name) if self.library is not None else None
        return self._found[name]

    def _load(self, request: LoraRequest):
        info = self._find(request.name)
        if info is None:
            folder = self.library.folder if self.library is not None else "models/Lora"
            self._warn(f"Lora not found: {request.name} (looked in {folder})", "Lora not found", request.name)
            return None
        network = self.library.load(info)  # a malformed file stops the run: ModelLoadError naming it
        if self.add_lora_hashes and (request.te or request.unet):
            shorthash = self.library.shorthash(info)
            if shorthash:
                self.lora_hashes[request.name.translate(_INFOTEXT_UNSAFE)] = shorthash
        return network, request

    def _note_embeddings(self, texts: list[str]) -> None:
        db = self.embeddings
        if db is None:
            return
        db.load_for_model(self.model)
        tokenizer = self.model.tokenizer
        for name in db.names_in(tokenizer, texts):
            shorthash = db.shorthash(name) if self.add_ti_hashes else None
            if shorthash:
                self.ti_hashes[name.translate(_INFOTEXT_UNSAFE)] = shorthash
        for name in db.names_in(tokenizer, texts, "skipped"):
            self._warn(db.misfit(name), "Embeddings not loaded", name)
        for name in db.names_in(tokenizer, texts, "errors"):
            self._warn(f"embedding {name} not used: {db.errors[name]}", "Embeddings not loaded", name)

    def infotext(self) -> dict[str, str]:
        entries = {}
        if self.lora_hashes:
            entries["Lora hashes"] = ", ".join(f"{k}: {v}" for k, v in self.lora_hashes.items())
        if self.ti_hashes:
            entries["TI hashes"] = ", ".join(f"{k}: {v}" for k, v in self.ti_hashes.items())
        entries.update({key: ", ".join(names) for key, names in self.not_found.items() if names})
        return entries

    def facts(self, facts: RunFacts) -> RunFacts:
        """`facts` with this run's entries placed where A1111 puts them: after Hires…, before Emphasis."""
        mine = self.infotext()
        if not mine:
            return facts
        extra = {k: v for k, v in facts.extra.items() if k not in mine and k != "Emphasis"}
        extra.update(mine)
        if "Emphasis" in facts.extra:
            extra["Emphasis"] = facts.extra["Emphasis"]
        return dataclasses.replace(facts, extra=extra)


def embeddings_listing(services, refresh: bool = False) -> dict:
    """`/sdapi/v1/embeddings` ({loaded, skipped}), checked against the current model's text encoder when one is
    loaded (listing never loads a model); `refresh` re-reads every file (`/refresh-embeddings`)."""
    db, model = services.embeddings, services.models.current
    if db is None:
        return {"loaded": {}, "skipped": {}}
    if refresh:
        db.refresh()
    if model is not None:
        db.load_for_model(model)
    else:
        db.load_for(None, None)
    return db.api_info()


def loras_listing(services, refresh: bool = False) -> list[dict]:
    """`/sdapi/v1/loras`: [{name, alias, path, metadata}]; `refresh` re-scans the folder (`/refresh-loras`)."""
    if services.loras is None:
        return []
    return [info.api_info() for info in services.loras.list(refresh)]
