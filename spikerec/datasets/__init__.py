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

from spikerec.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "BinnedFrames": "binning", "bin_events": "binning", "bin_ragged": "binning", "max_frames": "binning",
    "Batch": "frames", "FrameDataset": "frames", "WindowCollate": "frames", "build_frame_datasets": "frames",
    "load_frames": "frames", "pad_collate": "frames",
    "dataset_info": "info",
    "RaggedEvents": "readers", "SpikeFile": "readers", "load_events": "readers",
    "synthesize": "synthetic",
    "write_spike_file": "writers",
    "download_dataset": "download",
    "Cochlea": "audio", "CochleaConfig": "audio", "encode_audio_dataset": "audio",
})
