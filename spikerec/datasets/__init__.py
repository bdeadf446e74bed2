"""SHD/SSC data: HDF5 readers, download + checksum, binning to frames, caching, synthetic data, tonic interop.

Main entry points::

    from spikerec.datasets import build_frame_datasets, pad_collate
    ds = build_frame_datasets("data/", dataset="shd", bin_ms=10.0, pool=5)
    loader = torch.utils.data.DataLoader(ds["train"], batch_size=64, collate_fn=pad_collate)
    frames, labels, window, lengths = next(iter(loader))   # [T_max, B, C], [B], [B], [B]

``WindowCollate(drain_steps=D)`` adds each sample's drain (see :mod:`spikerec.window`); ``pad_collate`` adds none.

Names are imported on first use, so ``spikerec data info`` and ``--help`` do not pay for importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BinnedFrames": "binning", "bin_events": "binning", "bin_ragged": "binning",
    "Batch": "frames", "FrameDataset": "frames", "WindowCollate": "frames", "build_frame_datasets": "frames",
    "load_frames": "frames", "pad_collate": "frames", "max_frames": "binning",
    "dataset_info": "info",
    "RaggedEvents": "readers", "SpikeFile": "readers", "load_events": "readers",
    "synthesize": "synthetic",
    "write_spike_file": "writers",
    "download_dataset": "download",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'spikerec.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"spikerec.datasets.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
