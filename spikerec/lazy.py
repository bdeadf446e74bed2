"""Packages whose public names are imported on first use (so ``import spikerec.X`` and ``--help`` stay cheap).

A package lists ``{public name: submodule}`` once and gets its module ``__getattr__``/``__dir__``::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"Network": "ir.network", ...})

Submodule paths are relative to the package. A resolved name is cached in the package namespace.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` whose names live in the submodules ``exports`` names."""
    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__, sorted(exports)
