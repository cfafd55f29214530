"""Voiceprints -> speakers: spectral clustering of their cosine affinities, the number of
speakers read from the eigengap of the graph's Laplacian (as 3D-Speaker and SpeechBrain do),
then tiny clusters folded into their nearest and near-identical ones merged."""

from __future__ import annotations

import numpy as np

# Each voiceprint keeps its strongest affinities only: this share of the others, and never
# fewer than MIN_NEIGHBOURS (3D-Speaker's published diarization recipe)
KEEP_SHARE = 0.012
MIN_NEIGHBOURS = 6
# a speaker heard for under this many seconds is folded into the nearest: counted in
# seconds, since a short region of speech is a short piece (Amazon's call, one speaker:
# eight pieces of 0.2 to 0.5 s, 2.8 s in all, came out as a second speaker)
MIN_SPEAKER_S = 3.0
# seconds summed from pieces' spans are a rounding off the lattice of PIECE: two full
# pieces are 3.0 s, not 2.9999998
SECONDS_TOLERANCE = 1e-6
MERGE_COSINE = 0.875  # two speakers whose mean voiceprints are this alike are one
SINGLE_BELOW = 10  # so few voiceprints are one speaker: too few to tell a structure
# A voiceprint heard from less speech than this (half a piece) founds no speaker: it takes
# the nearest speaker's. Short pieces are alike whoever speaks (Twitter's call: 21 s of
# them scattered over 17 min came out as a speaker; two espeak-ng voices as three)
FOUNDING_S = 0.75
# Voiceprints clustered at once, about 37 minutes of speech: the affinity matrix and its
# eigenvectors grow with the square of the count (a 73-minute episode, 5,800 voiceprints, peaked
# at 1.5 GiB), so a longer episode clusters this many, evenly spread over it, and each of
# the others takes the speaker whose mean voiceprint is nearest
MOST_CLUSTERED = 1500


def cluster(
    vectors: np.ndarray,
    seconds: np.ndarray,
    max_speakers: int = 8,
    min_speakers: int = 1,
    most: int = MOST_CLUSTERED,
) -> np.ndarray:
    """A speaker number for each unit-length voiceprint (rows of `vectors`, each standing
    for `seconds` of speech: its piece's span), numbered from 0 in order of first appearance."""
    count = len(vectors)
    founding = np.flatnonzero(seconds >= FOUNDING_S - SECONDS_TOLERANCE)
    if len(founding) < SINGLE_BELOW or max_speakers <= 1:
        return np.zeros(count, dtype=int)
    if len(founding) < count or count > most:
        spread = np.linspace(0, len(founding) - 1, min(most, len(founding)))
        chosen = founding[np.unique(spread.round().astype(int))]
        # the chosen stand for the founding speech only: the short pieces' seconds spread
        # over every speaker would lift a voice heard for 2 s past MIN_SPEAKER_S
        standing = seconds[chosen] * (seconds[founding].sum() / seconds[chosen].sum())
        found = cluster(vectors[chosen], standing, max_speakers, min_speakers, most)
        centres = mean_voiceprints(found, vectors[chosen], np.unique(found))
        labels = (vectors @ centres.T).argmax(axis=1)
        labels[chosen] = found
        return _by_first_appearance(labels)
    affinity = _pruned_affinity(vectors)
    laplacian = np.diag(affinity.sum(axis=1)) - affinity
    values, eigenvectors = np.linalg.eigh(laplacian)
    most = min(max_speakers, count - 1)
    gaps = np.diff(values[min_speakers - 1 : most + 1])
    speakers = int(np.argmax(gaps)) + min_speakers
    labels = _kmeans(eigenvectors[:, :speakers], speakers)
    labels = _fold_small(labels, vectors, seconds)
    labels = _merge_alike(labels, vectors)
    return _by_first_appearance(labels)


def _pruned_affinity(vectors: np.ndarray) -> np.ndarray:
    similarity = vectors @ vectors.T
    count = len(vectors)
    keep = max(MIN_NEIGHBOURS, int(KEEP_SHARE * count))
    weakest = np.argsort(similarity, axis=1)[:, : max(0, count - keep)]
    pruned = similarity.copy()
    np.put_along_axis(pruned, weakest, 0.0, axis=1)
    pruned = 0.5 * (pruned + pruned.T)
    np.fill_diagonal(pruned, 0.0)
    return np.clip(pruned, 0.0, None)


def _kmeans(points: np.ndarray, k: int, restarts: int = 10, rounds: int = 100) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding, best of `restarts`; seeded, so a rerun gives
    the same speakers."""
    if k <= 1:
        return np.zeros(len(points), dtype=int)
    rng = np.random.default_rng(0)
    best, best_cost = np.zeros(len(points), dtype=int), np.inf
    for _ in range(restarts):
        centres = [points[rng.integers(len(points))]]
        for _ in range(1, k):
            distance = np.min([((points - c) ** 2).sum(axis=1) for c in centres], axis=0)
            total = distance.sum()
            pick = rng.choice(len(points), p=distance / total) if total > 0 else 0
            centres.append(points[pick])
        centres = np.array(centres)
        for _ in range(rounds):
            distances = ((points[:, None, :] - centres[None]) ** 2).sum(axis=2)
            labels = distances.argmin(axis=1)
            moved = np.array(
                [
                    points[labels == j].mean(axis=0) if (labels == j).any() else centres[j]
                    for j in range(k)
                ]
            )
            if np.allclose(moved, centres):
                break
            centres = moved
        cost = distances[np.arange(len(points)), labels].sum()
        if cost < best_cost:
            best, best_cost = labels, cost
    return best


def mean_voiceprints(labels: np.ndarray, vectors: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The mean voiceprint (unit length) of each speaker in `which`."""
    centres = np.array([vectors[labels == j].mean(axis=0) for j in which])
    return centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)


def _fold_small(labels: np.ndarray, vectors: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    found = np.unique(labels)
    heard = np.array([seconds[labels == label].sum() for label in found])
    major = found[heard >= MIN_SPEAKER_S - SECONDS_TOLERANCE]
    if len(major) == 0:
        return np.zeros_like(labels)
    if len(major) == len(found):
        return labels
    centres = mean_voiceprints(labels, vectors, major)
    labels = labels.copy()
    minor = ~np.isin(labels, major)
    labels[minor] = major[(vectors[minor] @ centres.T).argmax(axis=1)]
    return labels


def _merge_alike(labels: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    labels = labels.copy()
    while True:
        found = np.unique(labels)
        if len(found) < 2:
            return labels
        centres = mean_voiceprints(labels, vectors, found)
        similarity = np.triu(centres @ centres.T, 1)
        first, second = np.unravel_index(similarity.argmax(), similarity.shape)
        if similarity[first, second] < MERGE_COSINE:
            return labels
        labels[labels == found[second]] = found[first]


def _by_first_appearance(labels: np.ndarray) -> np.ndarray:
    order = {label: n for n, label in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[label] for label in labels.tolist()], dtype=int)
