"""OpenPose post-processing on synthetic network outputs: planted people come back part for part, are drawn as the
extension draws them, and match the extension's own procedure (tests/controlnet/annotator_oracle.py)."""
from __future__ import annotations

import numpy as np
import pytest
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
