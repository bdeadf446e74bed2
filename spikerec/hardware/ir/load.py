"""Networks from what a user points at, and the data they expect: the one loader of the hardware path.

``network_from_run(RUN_DIR)`` exports a trained run on the fly (delays rounded, BatchNorm folded, its sample
window's drain and data settings in the metadata); ``load_network_file(PATH)`` reads a Network ``.h5`` or a
``.nir`` graph. ``network_datasets`` / ``network_data_loader`` bin a data directory as the network's
``metadata["data"]`` says and batch it in sample windows (its ``drain_steps``; :mod:`spikerec.window`).
"""

from __future__ import annotations

from pathlib import Path

from spikerec.errors import ConfigError
from spikerec.hardware.ir.network import Network

__all__ = ["network_from_run", "load_network_file", "network_collate", "network_datasets", "network_data_loader"]


def network_from_run(run_dir: str | Path, checkpoint: str = "best") -> Network:
    """The Network IR of a run (data settings, sample window and provenance in its metadata)."""
    from spikerec.hardware.ir.from_model import network_from_model
    from spikerec.training.runs import load_run_model
    from spikerec.training.windows import window_collate

    model, recipe = load_run_model(run_dir, checkpoint)
    d = recipe.data
    meta = {"recipe": recipe.name, "run_dir": str(run_dir), "checkpoint": checkpoint,
            "data": {"dataset": d.dataset, "bin_ms": d.bin_ms, "pool": d.pool,
                     "max_duration_ms": d.max_duration_ms or None, "binary": d.binary, "window": d.window}}
    return network_from_model(model, input_pooling=d.pool, drain_steps=window_collate(recipe, model).drain_steps,
                              metadata=meta)


def load_network_file(path: str | Path, dt_ms: float | None = None, discretization: str | None = None,
                      reset: str | None = None) -> Network:
    """A Network from a spikerec network HDF5 file or (``.nir`` suffix) a NIR file; ``dt_ms``, ``discretization``
    and ``reset`` choose how a NIR graph is discretised (:func:`~spikerec.hardware.ir.nir.from_nir`)."""
    if Path(path).suffix.lower() == ".nir":
        from spikerec.hardware.ir.nir import load_nir

        return load_nir(path, dt_ms=dt_ms, discretization=discretization, reset=reset)
    if (dt_ms, discretization, reset) != (None, None, None):
        raise ConfigError(f"{path}: dt, discretization and reset are fixed in a Network file; they apply to .nir only")
    return Network.load(path)


def network_collate(net: Network):
    """The :class:`~spikerec.datasets.WindowCollate` of a network: its ``drain_steps``, and a fixed duration when
    its data metadata says ``window = "fixed"``."""
    from spikerec.datasets import WindowCollate, max_frames

    d = dict(net.metadata.get("data") or {})
    fixed = 0
    if d.get("window") == "fixed":
        fixed = max_frames(float(d["max_duration_ms"]), float(d.get("bin_ms", net.dt_ms)))
    return WindowCollate(drain_steps=int(net.drain_steps), fixed_steps=fixed)


def _dataset_kind(data: dict, data_dir: Path) -> str:
    """Which data set a network was trained on: its metadata, else the one whose files ``data_dir`` holds."""
    if data.get("dataset"):
        return str(data["dataset"])
    found = [k for k in ("shd", "ssc") if (data_dir / f"{k}_test.h5").exists()]
    if len(found) != 1:
        raise ConfigError(f"{data_dir}: cannot tell the data set of this network (its metadata has no data.dataset "
                          f"and the directory holds {'both' if found else 'neither'} shd_test.h5 / ssc_test.h5)")
    return found[0]


def network_datasets(net: Network, data_dir: str | Path) -> dict:
    """Frame datasets {"train", "val", "test"} of ``data_dir`` binned as the network's ``metadata["data"]`` says."""
    from spikerec.datasets import build_frame_datasets

    d = dict(net.metadata.get("data") or {})
    datasets = build_frame_datasets(data_dir, dataset=_dataset_kind(d, Path(data_dir)),
                                    bin_ms=float(d.get("bin_ms", net.dt_ms)), pool=int(d.get("pool", net.input_pooling)),
                                    max_duration_ms=d.get("max_duration_ms") or None, binary=bool(d.get("binary", False)))
    channels = datasets["test"].n_channels
    if channels != net.n_inputs:
        raise ConfigError(f"{data_dir}: the data have {channels} channels after pooling but the network reads "
                          f"{net.n_inputs}; check the data directory and the network's data metadata")
    return datasets


def network_data_loader(net: Network, data_dir: str | Path, split: str, batch_size: int = 64,
                        limit: int | None = None):
    """In-order DataLoader of sample windows over ``split`` (the first ``limit`` samples when given)."""
    from torch.utils.data import DataLoader, Subset

    ds = network_datasets(net, data_dir)[split]
    if len(ds) == 0:
        raise ConfigError(f"{data_dir}: split '{split}' is empty; choose another --split")
    if limit:
        ds = Subset(ds, range(min(limit, len(ds))))
    return DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=network_collate(net))
