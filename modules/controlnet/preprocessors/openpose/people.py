"""Chaining matched limbs into people (OpenPose's greedy assembly, as the extension runs it).

A person is a row of 20 numbers: the candidate id of each of the 18 parts (−1 where absent), the summed score and
the number of parts. Limbs are taken type by type: one that shares a keypoint with a person extends it, one that
links two disjoint people merges them, any other starts a new person. People with fewer than 4 parts or a mean
score under 0.4 are dropped.
"""
from __future__ import annotations

import numpy as np

from modules.controlnet.preprocessors.openpose.body import LIMBS, PARTS, SEEDING_LIMBS, Keypoint

SCORE, COUNT = PARTS, PARTS + 1
MIN_PARTS = 4
MIN_MEAN_SCORE = 0.4


def _extend(person: np.ndarray, part: int, cand_id: float, gain: float) -> None:
    person[part] = cand_id
    person[COUNT] += 1
    person[SCORE] += gain


def _add_limb(people: list[np.ndarray], limb: int, row: np.ndarray, scores: np.ndarray) -> None:
    """One accepted limb (id a, id b, score) added to `people` in place."""
    pa, pb = LIMBS[limb]
    id_a, id_b, s = row
    hits = [k for k, p in enumerate(people) if p[pa] == id_a or p[pb] == id_b][:2]
    if len(hits) == 1:
        person = people[hits[0]]
        if person[pb] != id_b:
            _extend(person, pb, id_b, scores[int(id_b)] + s)
    elif len(hits) == 2:
        first, second = people[hits[0]], people[hits[1]]
        if not np.any((first[:PARTS] >= 0) & (second[:PARTS] >= 0)):  # disjoint: one person
            first[:PARTS] += second[:PARTS] + 1  # −1 + id + 1 = id where only the second has the part
            first[PARTS:] += second[PARTS:]
            first[SCORE] += s
            del people[hits[1]]
        else:
            _extend(first, pb, id_b, scores[int(id_b)] + s)
    elif limb < SEEDING_LIMBS:
        person = np.full(PARTS + 2, -1.0)
        person[pa], person[pb] = id_a, id_b
        person[COUNT] = 2
        person[SCORE] = scores[int(id_a)] + scores[int(id_b)] + s
        people.append(person)


def assemble(limbs: list[np.ndarray | None], candidates: np.ndarray) -> list[np.ndarray]:
    """People rows from the matched limbs; `candidates` rows are (x, y, score, id) indexed by id."""
    people: list[np.ndarray] = []
    scores = candidates[:, 2] if len(candidates) else np.zeros(0)
    for limb, rows in enumerate(limbs):
        if rows is None:
            continue
        for row in rows:
            _add_limb(people, limb, row, scores)
    return [p for p in people if p[COUNT] >= MIN_PARTS and p[SCORE] / p[COUNT] >= MIN_MEAN_SCORE]


def keypoints(people: list[np.ndarray], candidates: np.ndarray) -> list[list[Keypoint | None]]:
    """Each person's 18 keypoints (None where absent), in pixels."""
    return [[None if i < 0 else Keypoint(float(candidates[int(i), 0]), float(candidates[int(i), 1]),
                                         float(candidates[int(i), 2])) for i in person[:PARTS]]
            for person in people]
