"""Test-suite settings: one torch thread per xdist worker (the suite runs with -n 2 on 2 cores),
a headless matplotlib backend, and no network."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
