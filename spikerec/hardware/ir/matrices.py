"""Weight matrices of the Network IR, dense or CSR: conversion, synapse counts and their HDF5 encoding (a dataset,
or a group with attrs ``encoding="csr"``, ``shape`` and datasets ``data``, ``indices``, ``indptr``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from spikerec.errors import CheckpointError

__all__ = ["to_dense", "nonzero_count", "write_matrix", "read_matrix"]


def to_dense(m) -> np.ndarray:
    """A dense numpy copy of a dense or CSR matrix."""
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def nonzero_count(m) -> int:
    """Number of non-zero entries (the synapse count convention: a synapse exists where weight != 0)."""
    if m is None:
        return 0
    if sp.issparse(m):
        return int(np.count_nonzero(m.data))
    return int(np.count_nonzero(m))


def write_matrix(g, name: str, m) -> None:
    """Write a dense (gzip above 4096 entries) or CSR matrix as ``g[name]``."""
    if sp.issparse(m):
        sub = g.create_group(name)
        sub.attrs.update({"encoding": "csr", "shape": np.asarray(m.shape, dtype=np.int64)})
        sub.create_dataset("data", data=m.data)
        sub.create_dataset("indices", data=m.indices.astype(np.int64))
        sub.create_dataset("indptr", data=m.indptr.astype(np.int64))
    else:
        g.create_dataset(name, data=np.asarray(m), compression="gzip" if np.asarray(m).size > 4096 else None)


def read_matrix(g, name: str, where: str):
    """``g[name]`` as a dense array or CSR matrix (None when absent); damaged CSR raises CheckpointError."""
    import h5py

    if name not in g:
        return None
    obj = g[name]
    if isinstance(obj, h5py.Dataset):
        return obj[()]
    if obj.attrs.get("encoding") != "csr":
        raise CheckpointError(f"{where}: field {name!r} has unknown encoding {obj.attrs.get('encoding')!r} "
                              f"(expected a dataset or 'csr')")
    shape = tuple(int(s) for s in obj.attrs["shape"])
    data, indices, indptr = obj["data"][()], obj["indices"][()], obj["indptr"][()]
    if len(shape) != 2 or indptr.shape != (shape[0] + 1,) or indices.shape != data.shape or (
            indptr.size and (indptr[0] != 0 or indptr[-1] != data.size or np.any(np.diff(indptr) < 0))) or (
            indices.size and (indices.min() < 0 or indices.max() >= shape[1])):
        raise CheckpointError(f"{where}: field {name!r} is not a consistent CSR matrix of shape {list(shape)} "
                              f"(indptr/indices/data disagree); the file is damaged, re-export it")
    return sp.csr_array((data, indices, indptr), shape=shape)
