"""``spikerec demo``: the whole toolkit end to end on built-in synthetic data, with a report folder.

    from spikerec.demo import run_demo
    summary = run_demo("demo-out", quick=True)   # returns the numbers written to demo-out/report.md
"""

from __future__ import annotations

from spikerec.demo.pipeline import DemoSizes, run_demo

__all__ = ["DemoSizes", "run_demo"]
