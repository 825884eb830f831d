"""Preprocessors that run a network on the user's own annotator files (sd-webui-controlnet's names, labels, tags,
sliders and priorities). Each is always listed; while its files are missing, choosing it is refused naming the
files and where to put them (`Registry.get`). The networks load once per file into the registry's cache."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from modules.controlnet.preprocessors.annotator_files import AnnotatorFiles, NetworkCache
from modules.controlnet.preprocessors.depth.midas import MIDAS_FILE, depth_midas
from modules.controlnet.preprocessors.openpose import BODY_FILE, FACE_FILE, HAND_FILE, openpose
from modules.controlnet.preprocessors.registry import Preprocessor, Registry, Unavailable

NO_FACE = "its face network (facenet.pth) is not built yet"


def network_preprocessors(roots: tuple[Path, ...], cache: NetworkCache) -> tuple[Preprocessor, ...]:
    midas = AnnotatorFiles("midas", (MIDAS_FILE,), roots)
    body = AnnotatorFiles("openpose", (BODY_FILE,), roots)
    body_and_hands = AnnotatorFiles("openpose", (BODY_FILE, HAND_FILE), roots)
    return (
        Preprocessor("depth", partial(depth_midas, midas, cache), label="depth_midas", tags=("Depth",),
                     priority=100, weights=midas),
        Preprocessor("openpose", partial(openpose, body, cache), tags=("OpenPose",), weights=body),
        Preprocessor("openpose_hand", partial(openpose, body_and_hands, cache, with_hands=True),
                     tags=("OpenPose",), resolution=None, weights=body_and_hands),
    )


NETWORK_UNAVAILABLE = tuple(Unavailable(name, (BODY_FILE, HAND_FILE, FACE_FILE), "models/annotator/openpose", NO_FACE)
                            for name in ("openpose_full", "openpose_face", "openpose_faceonly"))


def with_networks(preprocessors: tuple[Preprocessor, ...], unavailable: tuple[Unavailable, ...],
                  roots: tuple[Path, ...] = (), disable_safe_unpickle: bool = False) -> Registry:
    """The registry of `preprocessors` plus the network ones, their files looked for under `roots`
    (modules/controlnet/preprocessors/annotator_files.py `annotator_roots`)."""
    cache = NetworkCache(disable_safe_unpickle=disable_safe_unpickle)
    networks = network_preprocessors(tuple(roots), cache)
    names = {p.name for p in networks} | {p.shown_name for p in networks}
    rest = tuple(u for u in unavailable if u.name not in names and u.name not in {n.name for n in NETWORK_UNAVAILABLE})
    return Registry(tuple(preprocessors) + networks, rest + NETWORK_UNAVAILABLE)
