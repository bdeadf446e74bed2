"""Device choice and DistributedDataParallel plumbing for ``torchrun`` launches.

``torchrun --nproc-per-node N -m spikerec train ...`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
:func:`init_distributed` then joins the process group (NCCL on CUDA, gloo on CPU). Without
those variables everything runs in one process and these helpers are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from spikerec.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without a GPU is a ConfigError."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' requested but torch sees no CUDA GPU; use --device cpu or auto")
        return torch.device("cuda", local_rank)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device '{name}'; use auto, cpu or cuda")


def init_distributed(device_name: str) -> DistInfo:
    """Join the torchrun process group if the environment describes one."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``values`` over all ranks (returns ``values`` unchanged in a single process)."""
    if info.enabled:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def average_gradients(model: torch.nn.Module, info: DistInfo) -> None:
    """Average the parameter gradients over all ranks, as DDP's reducer does, for backward passes that do not run
    through the DDP wrapper (SLTT). A parameter without a gradient counts as zero (DDP's convention)."""
    if not info.enabled:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world_size
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset:offset + p.numel()].view_as(p.grad))
        offset += p.numel()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


class ShuffleShardSampler(Sampler[int]):
    """Epoch-seeded shuffle, then this rank's shard ``[rank::world_size]``.

    The permutation depends only on ``(seed, epoch)``, so a resumed run sees exactly the batches an
    uninterrupted one would. When training on several ranks, the last ``n % world_size`` samples of
    each permutation are left out of that epoch so every rank runs the same number of batches (DDP
    needs that). With ``shuffle=False`` it shards in order (evaluation: no sample is
    duplicated, unlike ``DistributedSampler``'s padding, so counts summed over ranks are exact).
    """

    def __init__(self, n: int, info: DistInfo, seed: int = 0, shuffle: bool = True) -> None:
        self.n, self.info, self.seed, self.shuffle, self.epoch = n, info, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        usable = self.n - self.n % self.info.world_size
        return torch.randperm(self.n, generator=generator)[:usable].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.info.rank::self.info.world_size])

    def __len__(self) -> int:
        if self.shuffle:
            return self.n // self.info.world_size
        return len(range(self.info.rank, self.n, self.info.world_size))
