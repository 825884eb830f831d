"""The pose map ControlNet's openpose models were trained on: black canvas, each limb a filled ellipse 8 px thick
in its colour at 60 %, each keypoint a disc of radius 4 in its full colour; hand bones as 2 px lines in a hue
wheel with blue points; face landmarks as white discs of radius 3. Pillow draws what the extension draws with
OpenCV (same shapes, sizes and colours)."""
from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw

from modules.controlnet.preprocessors.openpose.body import LIMBS, Keypoint

DRAWN_LIMBS = 17  # the ear-to-shoulder limbs help assembly but are not drawn
STICK_HALF_WIDTH = 4
POINT_RADIUS = 4
FACE_RADIUS = 3
COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))
HAND_BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20))


def ellipse_polygon(cx: int, cy: int, half_length: int, half_width: int, angle_deg: int) -> list[tuple[int, int]]:
    """The outline of a rotated ellipse sampled every degree and rounded to pixels (consecutive repeats dropped).

    >>> ellipse_polygon(10, 10, 5, 0, 0)[:2]
    [(15, 10), (14, 10)]
    """
    a, b = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    points: list[tuple[int, int]] = []
    for t in range(361):
        x, y = half_length * math.cos(math.radians(t)), half_width * math.sin(math.radians(t))
        p = (int(np.rint(cx + x * a - y * b)), int(np.rint(cy + x * b + y * a)))
        if not points or p != points[-1]:
            points.append(p)
    return points


def draw_body(canvas: Image.Image, points: list[Keypoint | None]) -> None:
    """One person's limbs, then its keypoints, on `canvas` (pixel coordinates)."""
    pen = ImageDraw.Draw(canvas)
    for (pa, pb), colour in zip(LIMBS[:DRAWN_LIMBS], COLOURS):
        a, b = points[pa], points[pb]
        if a is None or b is None:
            continue
        length = math.hypot(a.x - b.x, a.y - b.y)
        angle = int(math.degrees(math.atan2(a.y - b.y, a.x - b.x)))
        outline = ellipse_polygon(int((a.x + b.x) / 2), int((a.y + b.y) / 2), int(length / 2), STICK_HALF_WIDTH,
                                  angle)
        pen.polygon(outline, fill=tuple(int(c * 0.6) for c in colour))
    for point, colour in zip(points, COLOURS):
        if point is not None:
            x, y = int(point.x), int(point.y)
            pen.ellipse((x - POINT_RADIUS, y - POINT_RADIUS, x + POINT_RADIUS, y + POINT_RADIUS), fill=colour)


def draw_hand(canvas: Image.Image, points: list[Keypoint | None]) -> None:
    """One hand's 21 points: bones coloured around the hue wheel, then the points in blue."""
    pen = ImageDraw.Draw(canvas)
    for k, (i, j) in enumerate(HAND_BONES):
        a, b = points[i], points[j]
        if a is None or b is None or min(a.x, a.y, b.x, b.y) < 1:
            continue
        rgb = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(k / len(HAND_BONES), 1.0, 1.0))
        pen.line((int(a.x), int(a.y), int(b.x), int(b.y)), fill=rgb, width=2)
    for p in points:
        if p is not None and min(p.x, p.y) >= 1:
            x, y = int(p.x), int(p.y)
            pen.ellipse((x - POINT_RADIUS, y - POINT_RADIUS, x + POINT_RADIUS, y + POINT_RADIUS), fill=(0, 0, 255))


def draw_face(canvas: Image.Image, points: list[Keypoint | None]) -> None:
    """One face's landmarks as white discs of radius 3 (those at or left of / above the first pixel are not drawn)."""
    pen = ImageDraw.Draw(canvas)
    for p in points:
        if p is None:
            continue
        x, y = int(p.x), int(p.y)
        if x > 0 and y > 0:
            pen.ellipse((x - FACE_RADIUS, y - FACE_RADIUS, x + FACE_RADIUS, y + FACE_RADIUS), fill=(255, 255, 255))


def draw_people(height: int, width: int, bodies: list[list[Keypoint | None]],
                hands: list[tuple[list[Keypoint | None] | None, ...]] | None = None,
                faces: list[list[Keypoint | None] | None] | None = None, with_bodies: bool = True) -> np.ndarray:
    """uint8 [height, width, 3]: person by person, the body (unless `with_bodies` is off), its hands (left, then
    right; None where not found), its face."""
    canvas = Image.new("RGB", (width, height))
    for k, body in enumerate(bodies):
        if with_bodies:
            draw_body(canvas, body)
        for hand in (hands[k] if hands else ()):
            if hand:
                draw_hand(canvas, hand)
        face = faces[k] if faces else None
        if face:
            draw_face(canvas, face)
    return np.asarray(canvas)


def draw_persons(height: int, width: int, people, with_bodies: bool = True) -> np.ndarray:
    """uint8 [height, width, 3] of `people` (pose_json.Person, pixels): what /controlnet/render_openpose_json draws
    and what the openpose preprocessors draw before cropping the padding away."""
    return draw_people(height, width, [list(p.body) for p in people],
                       [(p.left_hand, p.right_hand) for p in people], [p.face for p in people], with_bodies)
