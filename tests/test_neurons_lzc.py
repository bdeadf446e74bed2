"""Lempel-Ziv complexity: vectorised implementation vs the plain algorithm, and the LZC classifier."""

from __future__ import annotations

import math

import pytest
import torch

from spikerec.errors import ShapeError
from spikerec.neurons.lzc import LZCClassifier, lempel_ziv_complexity, lzc_reference

KNOWN = [
    ("0001101001000101", 6),  # Kaspar & Schuster 1987: 0 | 001 | 10 | 100 | 1000 | 101
    ("0000000000", 2),
    ("0101010101", 3),
    ("1", 1),
    ("10", 2),
    ("1001111011000010", 6),
]


@pytest.mark.parametrize("bits,c", KNOWN)
def test_reference_on_known_strings(bits, c):
    assert lzc_reference(bits) == c
    x = torch.tensor([int(b) for b in bits], dtype=torch.float32)
    assert lempel_ziv_complexity(x[:, None, None], normalize=False).item() == c


def test_vectorised_matches_reference_on_random_trains():
    g = torch.Generator().manual_seed(0)
    for T, rate in ((1, 0.5), (2, 0.5), (17, 0.1), (64, 0.5), (100, 0.05), (100, 0.9)):
        spikes = (torch.rand(T, 6, 7, generator=g) < rate).float()
        c = lempel_ziv_complexity(spikes, normalize=False)
        assert c.shape == (6, 7)
        for b in range(6):
            for n in range(7):
                assert c[b, n].item() == lzc_reference(spikes[:, b, n].tolist()), (T, rate, b, n)


def test_normalised_random_near_one_and_regular_low():
    g = torch.Generator().manual_seed(1)
    T = 1000
    rand = (torch.rand(T, 1, 8, generator=g) < 0.5).float()
    regular = torch.zeros(T, 1, 8)
    regular[::10] = 1
    c_rand = lempel_ziv_complexity(rand)
    assert bool((c_rand > 0.85).all() & (c_rand < 1.15).all())
    assert bool((lempel_ziv_complexity(regular) < 0.1).all())
    assert lempel_ziv_complexity(regular, time_dim=0).shape == (1, 8)
    with pytest.raises(ShapeError):
        lempel_ziv_complexity(torch.zeros(0, 3))


def test_lzc_classifier_separates_regular_from_irregular_trains():
    g = torch.Generator().manual_seed(2)
    T, n, N = 80, 40, 4
    labels = torch.arange(n) % 2
    spikes = torch.zeros(T, n, N)
    for i in range(n):
        if labels[i] == 0:  # periodic trains with a random phase: low complexity
            period = int(torch.randint(4, 9, (1,), generator=g))
            spikes[int(torch.randint(0, period, (1,), generator=g))::period, i] = 1
        else:  # Poisson trains at a similar rate: high complexity
            spikes[:, i] = (torch.rand(T, N, generator=g) < 0.18).float()
    clf = LZCClassifier(N, 2)
    feats = clf.features(spikes)
    assert clf.fit(feats, labels, epochs=100) == 1.0
    assert torch.equal(clf(spikes).argmax(1), labels)
    with pytest.raises(ShapeError):
        clf(torch.zeros(T, 2, N + 1))
    assert math.isclose(float(clf.feature_mean.sum()), float(feats.mean(0).sum()), rel_tol=1e-6)


def test_per_sample_lengths_parse_only_each_train_s_own_steps():
    g = torch.Generator().manual_seed(3)
    T, B, N = 50, 5, 4
    spikes = (torch.rand(T, B, N, generator=g) < 0.4).float()
    lengths = torch.tensor([50, 1, 2, 17, 33])
    c = lempel_ziv_complexity(spikes, normalize=False, lengths=lengths)
    cn = lempel_ziv_complexity(spikes, lengths=lengths)
    for b in range(B):
        L = int(lengths[b])
        for n in range(N):
            ref = lzc_reference(spikes[:L, b, n].tolist())
            assert c[b, n].item() == ref, (b, n, L)
            assert math.isclose(cn[b, n].item(), ref * math.log2(L) / L if L >= 2 else ref, rel_tol=1e-6)
    # a padded tail of ones would change the full-length parse but not the per-length one
    padded = torch.cat([spikes, torch.ones(10, B, N)])
    assert torch.equal(lempel_ziv_complexity(padded, normalize=False, lengths=lengths), c)
    with pytest.raises(ShapeError, match="leading shape"):
        lempel_ziv_complexity(spikes, lengths=torch.tensor([3, 4]))
    with pytest.raises(ShapeError, match=r"\[1, 50\]"):
        lempel_ziv_complexity(spikes, lengths=torch.tensor([0, 4, 4, 4, 4]))
    clf = LZCClassifier(N, 2)
    assert torch.equal(clf.features(spikes, lengths), cn)
