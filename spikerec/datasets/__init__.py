"""SHD/SSC data: HDF5 readers, download + checksum, binning to frames, caching, synthetic data, tonic interop.

Main entry points::

    from spikerec.datasets import build_frame_datasets, pad_collate
    ds = build_frame_datasets("data/", dataset="shd", bin_ms=10.0, pool=5)
    loader = torch.utils.data.DataLoader(ds["train"], batch_size=64, collate_fn=pad_collate)
    frames, labels, lengths = next(iter(loader))   # [T_max, B, C], [B], [B]
"""

from __future__ import annotations

from spikerec.datasets.binning import BinnedFrames, bin_events, bin_ragged
from spikerec.datasets.frames import FrameDataset, build_frame_datasets, load_frames, pad_collate
from spikerec.datasets.info import dataset_info
from spikerec.datasets.readers import RaggedEvents, SpikeFile, load_events
from spikerec.datasets.synthetic import synthesize
from spikerec.datasets.writers import write_spike_file

__all__ = [
    "BinnedFrames", "FrameDataset", "RaggedEvents", "SpikeFile", "bin_events", "bin_ragged", "build_frame_datasets",
    "dataset_info", "load_events", "load_frames", "pad_collate", "synthesize", "write_spike_file",
]
