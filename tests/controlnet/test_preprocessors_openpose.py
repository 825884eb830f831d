"""OpenPose post-processing on synthetic network outputs: planted people come back part for part, are drawn as the
extension draws them, and match the extension's own procedure (tests/controlnet/annotator_oracle.py)."""
from __future__ import annotations

import numpy as np
import torch

from modules.controlnet.preprocessors.openpose import detect_bodies
from modules.controlnet.preprocessors.openpose.body import LIMB_PAFS, LIMBS, find_peaks, match_limbs
from modules.controlnet.preprocessors.openpose.draw import COLOURS, draw_people
from modules.controlnet.preprocessors.openpose.people import assemble, keypoints
from tests.controlnet import annotator_oracle

# One standing person (x, y) in COCO-18 order, about 180 px tall.
PERSON = np.array([(64, 40), (64, 70), (44, 70), (40, 100), (38, 128), (84, 70), (88, 100), (90, 128), (54, 130),
                   (52, 170), (52, 210), (74, 130), (76, 170), (76, 210), (58, 34), (70, 34), (52, 38), (76, 38)],
                  float)


def planted_maps(people: list[np.ndarray], h: int, w: int, sigma: float, band: float):
    """Heatmaps [h, w, 19] with a Gaussian (peak 0.9) per keypoint and PAFs [h, w, 38] holding each limb's unit
    direction within `band` of its segment."""
    ys, xs = np.mgrid[0:h, 0:w].astype(float)
    heat = np.zeros((h, w, 19))
    pafs = np.zeros((h, w, 38))
    for person in people:
        for part, (x, y) in enumerate(person):
            heat[:, :, part] += 0.9 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
        for (a, b), (cx, cy) in zip(LIMBS, LIMB_PAFS):
            d = person[b] - person[a]
            length = np.hypot(*d)
            t = np.clip(((xs - person[a][0]) * d[0] + (ys - person[a][1]) * d[1]) / length ** 2, 0, 1)
            near = np.hypot(xs - person[a][0] - t * d[0], ys - person[a][1] - t * d[1]) <= band
            pafs[near, cx], pafs[near, cy] = d[0] / length, d[1] / length
    return heat.astype(np.float32), pafs.astype(np.float32)


def people_found(heat, pafs, height):
    peaks = find_peaks(heat)
    candidates = np.concatenate(peaks)
    return keypoints(assemble(match_limbs(pafs, peaks, height), candidates), candidates)


def test_two_planted_people_come_back_part_for_part():
    people = [PERSON, PERSON + (120, 10)]
    heat, pafs = planted_maps(people, 256, 256, sigma=3, band=3)
    found = people_found(heat, pafs, 256)
    assert len(found) == 2
    for person, body in zip(people, found):
        assert [(p.x, p.y) for p in body] == [tuple(xy) for xy in person]


def test_a_lone_limb_is_not_a_person():
    heat, pafs = planted_maps([PERSON], 256, 256, sigma=3, band=3)
    heat[:, :, [0, *range(4, 19)]] = 0  # only neck, right shoulder and elbow: 3 parts, fewer than 4
    assert people_found(heat, pafs, 256) == []


def test_the_skeleton_is_drawn_as_the_extension_draws_it():
    heat, pafs = planted_maps([PERSON], 256, 256, sigma=3, band=3)
    canvas = draw_people(256, 256, people_found(heat, pafs, 256))
    assert canvas.shape == (256, 256, 3) and canvas.dtype == np.uint8
    assert tuple(canvas[40, 64]) == COLOURS[0]  # the nose's disc, red
    assert tuple(canvas[210, 52]) == COLOURS[10]  # the right ankle's
    assert tuple(canvas[70, 54]) == (153, 0, 0)  # neck → right shoulder: the first limb's colour at 60 %
    assert tuple(canvas[150, 53]) == tuple(int(c * 0.6) for c in COLOURS[7])  # right hip → knee, limb 7
    assert tuple(canvas[0, 0]) == (0, 0, 0) and tuple(canvas[150, 64]) == (0, 0, 0)  # between the legs
    assert tuple(canvas[74, 54]) != (0, 0, 0) and tuple(canvas[76, 54]) == (0, 0, 0)  # limbs are 8 px thick


class PlantedNetwork:
    """Stands in for the body network: for any input, the maps of PERSON scaled to the network's grid."""

    def __init__(self, scale: float):
        self.scale = scale

    def __call__(self, x: torch.Tensor):
        h, w = x.shape[2] // 8, x.shape[3] // 8
        heat, pafs = planted_maps([PERSON * self.scale / 8], h, w, sigma=1.0, band=0.8)
        to_net = lambda m: torch.from_numpy(np.ascontiguousarray(m.transpose(2, 0, 1)[None]))  # noqa: E731
        return to_net(pafs), to_net(heat)

    def to(self, device):  # the extension moves its model
        return self


def test_post_processing_matches_the_extension():
    body = annotator_oracle.openpose_body()
    image = np.zeros((368, 368, 3), np.uint8)  # the network sees it at 184 px: scale 0.5
    theirs = object.__new__(body.Body)
    theirs.model, theirs.cn_device = PlantedNetwork(0.5 * 368 / 256), "cpu"
    candidate, subset = theirs(image)
    expected = body.Body.format_body_result(candidate, subset)
    ours = detect_bodies(PlantedNetwork(0.5 * 368 / 256), image)
    assert len(ours) == len(expected) == 1
    for mine, ref in zip(ours[0], expected[0].keypoints):
        assert (mine is None) == (ref is None)
        if ref is not None:  # OpenCV's and Pillow's resampling kernels differ a little
            assert abs(mine.x - ref.x) <= 2 and abs(mine.y - ref.y) <= 2, (mine, ref)


def grid_blobs(count: int, h: int, w: int, sigma: float) -> np.ndarray:
    """[count + 1, h, w]: map k has a blob at GRID[k] (fractions of the width and height); the last is empty."""
    ys, xs = np.mgrid[0:h, 0:w].astype(float)
    maps = np.zeros((count + 1, h, w), np.float32)
    for k, (u, v) in enumerate(GRID[:count]):
        maps[k] = np.exp(-((xs - u * (w - 1)) ** 2 + (ys - v * (h - 1)) ** 2) / (2 * sigma ** 2))
    return maps


GRID = [(0.15 + 0.7 * (k % 9) / 8, 0.15 + 0.7 * (k // 9) / 8) for k in range(72)]


class GridNetwork:
    """Stands in for the hand (21 points) or face (70 landmarks) network: blobs at GRID, whatever the input."""

    def __init__(self, points: int):
        self.points = points

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(grid_blobs(self.points, x.shape[2] // 8, x.shape[3] // 8, sigma=1.0))[None]


BIG = PERSON * 2  # about 360 px tall on a 512 px image


def test_hand_points_land_where_the_network_puts_them():
    from modules.controlnet.preprocessors.openpose.body import Keypoint
    from modules.controlnet.preprocessors.openpose.hand import detect_hands, hand_boxes

    body = [Keypoint(x, y) for x, y in BIG]
    boxes = hand_boxes(body, 512, 512)
    assert len(boxes) == 2  # left arm first, then right
    hands = detect_hands(GridNetwork(21), np.zeros((512, 512, 3), np.uint8), body)
    for (x, y, side), hand in zip(boxes, hands):
        assert len(hand) == 21
        for point, (u, v) in zip(hand, GRID):
            assert abs(point.x - (x + u * side)) <= 2 + side / 64 and abs(point.y - (y + v * side)) <= 2 + side / 64


def test_face_landmarks_land_where_the_network_puts_them():
    from modules.controlnet.preprocessors.openpose.body import Keypoint
    from modules.controlnet.preprocessors.openpose.face import detect_face, face_box

    body = [Keypoint(x, y) for x, y in BIG]
    x, y, side = face_box(body, 512, 512)
    face = detect_face(GridNetwork(70), np.zeros((512, 512, 3), np.uint8), body)
    assert len(face) == 70  # the background map never reaches 0.05 here
    for point, (u, v) in zip(face, GRID):
        assert abs(point.x - (x + u * (side - 1))) <= 1.5 and abs(point.y - (y + v * (side - 1))) <= 1.5


class PlantedCache:
    """Stands in for the registry's NetworkCache: the planted network for each annotator file."""

    def get(self, paths, build):
        name = paths[0].name
        if name == "body_pose_model.pth":
            return PlantedNetwork(2 * 0.5 * 368 / 512)
        return GridNetwork(21 if name == "hand_pose_model.pth" else 70)


def test_openpose_full_draws_body_hands_and_face(tmp_path):
    from modules.controlnet.preprocessors.annotator_files import AnnotatorFiles
    from modules.controlnet.preprocessors.openpose import openpose
    from modules.controlnet.preprocessors.registry import Params

    names = ("body_pose_model.pth", "hand_pose_model.pth", "facenet.pth")
    (tmp_path / "openpose").mkdir()
    for name in names:
        (tmp_path / "openpose" / name).write_bytes(b"")  # only looked up: the planted cache builds nothing
    files = AnnotatorFiles("openpose", names, (tmp_path,))
    image = np.zeros((512, 512, 3), np.uint8)
    full = openpose(files, PlantedCache(), image, Params(resolution=512), with_hands=True, with_face=True)
    faceonly = openpose(AnnotatorFiles("openpose", names[::2], (tmp_path,)), PlantedCache(), image,
                        Params(resolution=512), with_face=True, with_bodies=False)
    colours = {tuple(c) for c in full.reshape(-1, 3)}
    assert {COLOURS[0], (0, 0, 255), (255, 255, 255)} <= colours  # a body part, hand points, face landmarks
    assert {tuple(c) for c in faceonly.reshape(-1, 3)} == {(0, 0, 0), (255, 255, 255)}
