"""Write a trained run as a network file: the Network IR (HDF5), NIR, Lava-dl netx, or a standalone Brian2 script
with its arrays (``spikerec export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikerec.errors import ConfigError
from spikerec.hardware.ir.load import network_from_run

__all__ = ["FORMATS", "export_run"]

FORMATS = ("network", "nir", "lava", "brian2")


def export_run(run_dir: str | Path, fmt: str, out: str | Path, checkpoint: str = "best") -> dict[str, Any]:
    """Export a run to ``out`` as ``fmt`` (one of :data:`FORMATS`); returns a summary dict."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    net = network_from_run(run_dir, checkpoint)
    result: dict[str, Any] = {"format": fmt, "path": str(out), "network": net.summary()}
    if fmt == "network":
        net.save(out)
    elif fmt == "nir":
        from spikerec.hardware.ir.nir import save_nir

        save_nir(net, out)
    elif fmt == "brian2":
        from spikerec.hardware.ir.brian2 import export_brian2

        result["brian2"] = export_brian2(net, out)
    else:
        from spikerec.hardware.ir.lava import export_lava

        result["lava"] = export_lava(net, out)
    return result
