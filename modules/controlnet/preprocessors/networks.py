"""Preprocessors that run a network on the user's own annotator files (sd-webui-controlnet's names, labels, tags,
sliders and priorities). Each is always listed; while its files are missing, choosing it is refused naming the
files and where to put them (`Registry.get`). The networks load once per file into the registry's cache."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from modules.controlnet.preprocessors.annotator_files import AnnotatorFiles, NetworkCache
from modules.controlnet.preprocessors.depth.midas import MIDAS_FILE, depth_midas
from modules.controlnet.preprocessors.openpose import BODY_FILE, FACE_FILE, HAND_FILE, openpose, openpose_poses
from modules.controlnet.preprocessors.registry import RESOLUTION, Preprocessor, Registry, Unavailable

OPENPOSE_VARIANTS = (  # name, files, hands, face, bodies drawn, resolution slider shown, priority
    ("openpose", (BODY_FILE,), False, False, True, True, 0),
    ("openpose_hand", (BODY_FILE, HAND_FILE), True, False, True, False, 0),
    ("openpose_face", (BODY_FILE, FACE_FILE), False, True, True, False, 0),
    ("openpose_faceonly", (BODY_FILE, FACE_FILE), False, True, False, False, 0),
    ("openpose_full", (BODY_FILE, HAND_FILE, FACE_FILE), True, True, True, True, 100),
)


def network_preprocessors(roots: tuple[Path, ...], cache: NetworkCache) -> tuple[Preprocessor, ...]:
    midas = AnnotatorFiles("midas", (MIDAS_FILE,), roots)
    out = [Preprocessor("depth", partial(depth_midas, midas, cache), label="depth_midas", tags=("Depth",),
                        priority=100, weights=midas)]
    for name, names, hands, face, bodies, slider, priority in OPENPOSE_VARIANTS:
        files = AnnotatorFiles("openpose", names, roots)
        run = partial(openpose, files, cache, with_hands=hands, with_face=face, with_bodies=bodies)
        with_poses = partial(openpose_poses, files, cache, with_hands=hands, with_face=face, with_bodies=bodies)
        out.append(Preprocessor(name, run, tags=("OpenPose",), resolution=RESOLUTION if slider else None,
                                priority=priority, weights=files, run_with_poses=with_poses))
    return tuple(out)


def with_networks(preprocessors: tuple[Preprocessor, ...], unavailable: tuple[Unavailable, ...],
                  roots: tuple[Path, ...] = (), disable_safe_unpickle: bool = False) -> Registry:
    """The registry of `preprocessors` plus the network ones, their files looked for under `roots`
    (modules/controlnet/preprocessors/annotator_files.py `annotator_roots`)."""
    cache = NetworkCache(disable_safe_unpickle=disable_safe_unpickle)
    networks = network_preprocessors(tuple(roots), cache)
    names = {p.name for p in networks} | {p.shown_name for p in networks}
    return Registry(tuple(preprocessors) + networks, tuple(u for u in unavailable if u.name not in names))
