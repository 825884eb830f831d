"""People found by the openpose preprocessors ⇄ the OpenPose JSON sd-webui-controlnet reads and writes.

One dict per image: `{"people": [{"pose_keypoints_2d": [x, y, c] × 18, "face_keypoints_2d": …,
"hand_left_keypoints_2d": …, "hand_right_keypoints_2d": …}], "animals": [], "canvas_height": H, "canvas_width": W}`.
Coordinates are fractions of the canvas (the padded frame detection ran on). A body point that was not found is
`0, 0, 0`; found points carry confidence 1.0. Hand and face points are normalised in float32 and a hand or face
point the network put at the box's top or left edge is written at −1 px (confidence 1.0, never drawn), as the
extension writes them. Reading, a point with confidence under 1 is absent; a list whose points all lie within ±1 is
normalised, any other is taken as pixels (the extension's rule, so pixel JSON from other tools renders too).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from modules.controlnet.preprocessors.openpose.body import PARTS, Keypoint
from modules.errors import InvalidInput

Points = tuple[Keypoint | None, ...]
HAND_POINTS = 21
MAX_SIDE = 16384
MAX_AREA = 8192 * 8192
MAX_COORD = 1e7  # px: beyond this Pillow's drawing overflows; any such point is far off every canvas anyway
SNAP = 1e-3  # px: a normalised point this close to a whole pixel is that pixel (float rounding, not position)


@dataclass(frozen=True)
class Person:
    """One person's points in pixels of the canvas; hands and face None where they were not looked for or found."""

    body: Points  # PARTS points, COCO-18 order (modules/controlnet/preprocessors/openpose/body.py)
    left_hand: Points | None = None  # the hand past keypoints 5-7
    right_hand: Points | None = None  # the hand past keypoints 2-4
    face: Points | None = None


def _flat(points: Points | None, height: int, width: int, precise: bool) -> list[float] | None:
    """x, y, c per point, normalised by the canvas (float64 when `precise`, else float32 as the extension's hand
    and face arrays are); absent points 0, 0, 0; None for no points.

    >>> _flat((Keypoint(32, 16), None), 64, 128, True)
    [0.25, 0.25, 1.0, 0.0, 0.0, 0.0]
    >>> _flat((), 64, 64, False) is None
    True
    """
    if not points:
        return None
    out: list[float] = []
    for p in points:
        if p is None:
            out += [0.0, 0.0, 0.0]
        elif precise:
            out += [float(p.x) / float(width), float(p.y) / float(height), 1.0]
        else:
            out += [float(np.float32(p.x) / np.float32(width)), float(np.float32(p.y) / np.float32(height)), 1.0]
    return out


def encode_poses(people: Sequence[Person], height: int, width: int) -> dict:
    """The OpenPose JSON of `people` on a height×width canvas.

    >>> encode_poses([], 512, 768)
    {'people': [], 'animals': [], 'canvas_height': 512, 'canvas_width': 768}
    """
    return {"people": [{"pose_keypoints_2d": _flat(p.body, height, width, True),
                        "face_keypoints_2d": _flat(p.face, height, width, False),
                        "hand_left_keypoints_2d": _flat(p.left_hand, height, width, False),
                        "hand_right_keypoints_2d": _flat(p.right_hand, height, width, False)} for p in people],
            "animals": [], "canvas_height": int(height), "canvas_width": int(width)}


def _pixel(value: float, size: int) -> float:
    """A normalised coordinate in pixels, a whole pixel when float rounding is all that keeps it from one.

    >>> _pixel(1 / 49, 49), _pixel(0.5, 7)
    (1.0, 3.5)
    """
    px = value * size
    return float(round(px)) if abs(px - round(px)) < SNAP else px


def _points(values, where: str, count: int | None, height: int, width: int) -> Points | None:
    """A flat x, y, c list as points in pixels; None for null or []. A bad list is refused naming `where`."""
    if values is None or (isinstance(values, list) and not values):
        return None
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in values):
        raise InvalidInput(where, "expected a list of numbers", "x, y, confidence for each point, or null")
    if not all(math.isfinite(v) for v in values):
        raise InvalidInput(where, "holds a number that is not finite", "finite x, y, confidence values")
    if any(abs(v) > MAX_COORD for i, v in enumerate(values) if i % 3 != 2):
        raise InvalidInput(where, "holds a coordinate out of range", f"x and y within ±{MAX_COORD:.0f}")
    if len(values) % 3:
        raise InvalidInput(where, f"{len(values)} numbers is not a multiple of 3", "x, y, confidence per point")
    if count is not None and len(values) != 3 * count:
        raise InvalidInput(where, f"{len(values) // 3} points", f"{count} points ({3 * count} numbers)")
    triples = [values[i:i + 3] for i in range(0, len(values), 3)]
    kept = [(x, y) if c >= 1.0 else None for x, y, c in triples]
    present = [p for p in kept if p is not None]
    normalised = bool(present) and all(abs(x) <= 1 and abs(y) <= 1 for x, y in present)
    if normalised:
        return tuple(None if p is None else Keypoint(_pixel(p[0], width), _pixel(p[1], height)) for p in kept)
    return tuple(None if p is None else Keypoint(float(p[0]), float(p[1])) for p in kept)


def _side(data: Mapping, key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= MAX_SIDE or \
            value != int(value):
        raise InvalidInput(f"{where}.{key}", f"{value!r} is not a canvas size", f"a whole number 1 to {MAX_SIDE}")
    return int(value)


def decode_poses(data, where: str = "pose") -> tuple[list[Person], int, int]:
    """One OpenPose JSON dict → (people in pixels, canvas height, canvas width); any bad field is refused naming it
    (`where.people[i].pose_keypoints_2d`, …)."""
    if not isinstance(data, Mapping):
        raise InvalidInput(where, "expected an object", '{"people": [...], "canvas_height": H, "canvas_width": W}')
    height, width = _side(data, "canvas_height", where), _side(data, "canvas_width", where)
    if height * width > MAX_AREA:
        raise InvalidInput(f"{where}.canvas_width", f"a {width}×{height} canvas is too large",
                           f"at most {MAX_AREA} pixels in all, 8192×8192")
    if data.get("animals"):
        raise InvalidInput(f"{where}.animals", "animal poses are not drawn by Easel", "an empty list or no key")
    people = data.get("people", [])
    if not isinstance(people, list):
        raise InvalidInput(f"{where}.people", "expected a list of people")
    out = []
    for i, person in enumerate(people):
        at = f"{where}.people[{i}]"
        if not isinstance(person, Mapping):
            raise InvalidInput(at, "expected an object", "pose_keypoints_2d and optional hand and face lists")
        body = _points(person.get("pose_keypoints_2d"), f"{at}.pose_keypoints_2d", PARTS, height, width)
        if body is None:
            raise InvalidInput(f"{at}.pose_keypoints_2d", "missing", f"{PARTS} points ({3 * PARTS} numbers)")
        out.append(Person(
            body,
            _points(person.get("hand_left_keypoints_2d"), f"{at}.hand_left_keypoints_2d", HAND_POINTS, height,
                    width),
            _points(person.get("hand_right_keypoints_2d"), f"{at}.hand_right_keypoints_2d", HAND_POINTS, height,
                    width),
            _points(person.get("face_keypoints_2d"), f"{at}.face_keypoints_2d", None, height, width)))
    return out, height, width
