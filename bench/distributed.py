"""Distributed evaluation on torch.distributed: shard items by rank, gather rows, reduce set-level state exactly.

Under ``torchrun --nproc-per-node N talkbench evaluate ...`` every rank scores ``items[rank::N]``; rank 0 gathers the
per-video rows (in input order) and the set-level metrics' states (float64 sums, merged with ``merge_state``) and
writes the run. Backend: NCCL on CUDA devices, gloo on CPU. ``torch.distributed`` is imported only under
``torchrun`` (a world of more than one process), so a single-process evaluation never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from metrics import SetMetric

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` processes."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes the outputs."""
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share: every ``size``-th item from ``rank``."""
        return list(items[self.rank :: self.size])


def init_from_env(device: str = "cpu") -> World:
    """Join the process group that ``torchrun`` describes in the environment; a single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
        if device.startswith("cuda"):
            import torch

            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return World(dist.get_rank(), dist.get_world_size())


def gather_objects(world: World, obj: T) -> list[T]:
    """Every rank's ``obj`` on every rank, in rank order."""
    if world.size == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def reduce_set_metrics(world: World, set_metrics: Mapping[str, SetMetric]) -> None:
    """Leave every rank's set-level metrics holding the state of all ranks together."""
    if world.size == 1:
        return
    for metric in set_metrics.values():
        states = gather_objects(world, {k: _to_cpu(v) for k, v in metric.state().items()})
        metric.reset()
        for state in states:
            metric.merge_state(state)


def barrier(world: World) -> None:
    """Wait for every rank."""
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier()


def _to_cpu(value: Any) -> Any:
    return value.detach().cpu() if hasattr(value, "detach") else value
