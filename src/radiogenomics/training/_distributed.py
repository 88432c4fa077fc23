"""Multi-process training under ``torchrun``: the process's place, its device, collectives.

``torchrun --nproc_per_node N`` starts N copies of a command with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment. The training loops read them
(:func:`context_from_env`), initialise the default process group when nobody has
(:func:`init_process_group`: NCCL on CUDA, Gloo on CPU), put each process on
``cuda:LOCAL_RANK`` (:func:`process_device`), shard the data (:class:`ShardSampler`,
:func:`train_sampler`) and reduce the validation metrics across processes
(:func:`all_reduce_sum`, :func:`all_reduce_sums`, :func:`all_gather_objects`). Without
``torchrun`` every helper is a no-op for a single process, so the loops have one code
path.

This module imports torch.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator, Mapping, Sized
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler, Sampler

from radiogenomics.errors import ConfigurationError
from radiogenomics.training._common import resolve_device

__all__ = [
    "DistributedContext",
    "ShardSampler",
    "all_gather_objects",
    "all_reduce_sum",
    "all_reduce_sums",
    "barrier",
    "broadcast_buffers",
    "broadcast_object",
    "context_from_env",
    "init_process_group",
    "is_main_process",
    "process_count_change",
    "process_device",
    "train_sampler",
]

T = TypeVar("T")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands among the training processes.

    Attributes:
        rank: This process's rank, 0-based (rank 0 writes the run folder).
        world_size: The number of processes (1: no distributed training).
        local_rank: The rank on this machine (picks ``cuda:local_rank``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size or self.local_rank < 0:
            raise ConfigurationError(
                f"rank={self.rank}, world_size={self.world_size}, local_rank="
                f"{self.local_rank}: need world_size >= 1, 0 <= rank < world_size and "
                "local_rank >= 0 (as torchrun sets them)."
            )

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(
            f"the environment variable {name}={value!r} is not a whole number; torchrun sets "
            "RANK, WORLD_SIZE and LOCAL_RANK itself: unset them or launch with torchrun."
        ) from None


def context_from_env(environ: Mapping[str, str] | None = None) -> DistributedContext:
    """This process's place, from an initialised process group or torchrun's variables.

    An already initialised default process group wins (its rank and size); otherwise
    ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` are read (``torchrun`` sets them). Without
    either, the context is a single process.

    Args:
        environ: The environment to read; default ``os.environ``.

    Raises:
        ConfigurationError: ``WORLD_SIZE`` is set without ``RANK``, or the values are not
            whole numbers in range.
    """
    env = os.environ if environ is None else environ
    local = _env_int(env, "LOCAL_RANK")
    if dist.is_available() and dist.is_initialized():
        rank = dist.get_rank()
        return DistributedContext(
            rank=rank,
            world_size=dist.get_world_size(),
            local_rank=rank % max(torch.cuda.device_count(), 1) if local is None else local,
        )
    world_size = _env_int(env, "WORLD_SIZE")
    if world_size is None:
        return DistributedContext()
    env_rank = _env_int(env, "RANK")
    if env_rank is None:
        raise ConfigurationError(
            f"WORLD_SIZE={world_size} is set but RANK is not; launch with torchrun, which "
            "sets both."
        )
    return DistributedContext(
        rank=env_rank, world_size=world_size, local_rank=env_rank if local is None else local
    )


def is_main_process() -> bool:
    """Whether this process is rank 0 (or the only one): the one that prints and writes."""
    return context_from_env().is_main


def process_device(name: str, context: DistributedContext) -> torch.device:
    """This process's training device.

    One process: as :func:`~radiogenomics.training.resolve_device`. Several: ``"auto"``
    and ``"cuda"`` become ``cuda:LOCAL_RANK`` (and that device is made current), ``"cpu"``
    stays the CPU.

    Raises:
        ConfigurationError: An explicit ``"cuda:N"`` under several processes (each needs
            its own device), ``LOCAL_RANK`` beyond the visible GPUs, or a device that
            :func:`~radiogenomics.training.resolve_device` refuses.
    """
    device = resolve_device(name)
    if not context.active or device.type != "cuda":
        return device
    if name not in ("auto", "cuda"):
        raise ConfigurationError(
            f"device={name!r} under {context.world_size} processes would put every process "
            "on one GPU; pass device 'cuda' (or 'auto'): each process takes cuda:LOCAL_RANK."
        )
    count = torch.cuda.device_count()
    if context.local_rank >= count:
        raise ConfigurationError(
            f"LOCAL_RANK={context.local_rank} but only {count} GPU(s) are visible; start at "
            f"most {count} processes per machine (torchrun --nproc_per_node {count})."
        )
    device = torch.device("cuda", context.local_rank)
    torch.cuda.set_device(device)
    return device


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def init_process_group(context: DistributedContext, device: torch.device) -> bool:
    """Initialise the default process group if several processes run and nobody has yet.

    The backend is NCCL for CUDA devices and Gloo for the CPU; the rendezvous is
    torchrun's (``MASTER_ADDR``, ``MASTER_PORT``). A group created here is destroyed when
    the interpreter exits, so one process can train several models in turn.

    Args:
        context: This process's place.
        device: Its training device.

    Returns:
        Whether a group was created by this call.

    Raises:
        ConfigurationError: Several processes but this torch has no ``torch.distributed``.
    """
    if not context.active:
        return False
    if not dist.is_available():
        raise ConfigurationError(
            f"{context.world_size} processes were started, but this torch build has no "
            "torch.distributed; run a single process."
        )
    if dist.is_initialized():
        return False
    dist.init_process_group(
        backend="nccl" if device.type == "cuda" else "gloo",
        rank=context.rank,
        world_size=context.world_size,
    )
    atexit.register(_destroy)
    return True


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier(context: DistributedContext) -> None:
    """Wait until every process gets here (nothing for one process)."""
    if context.active:
        dist.barrier()


def all_reduce_sum(values: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """The element-wise sum of ``values`` over every process (a new float64 CPU tensor).

    Shape:
        values: any; output: as ``values``.
    """
    summed = values.detach().to(torch.float64).cpu().clone()
    if context.active:
        buffer = summed.to(_comm_device())
        dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
        summed = buffer.cpu()
    return summed


def all_reduce_sums(
    tensors: Mapping[str, torch.Tensor], context: DistributedContext
) -> dict[str, torch.Tensor]:
    """The element-wise sums of named tensors over every process, in one collective.

    For state such as :meth:`~radiogenomics.metrics.SegmentationMetrics.state`: the
    tensors are packed into one float64 buffer, reduced by :func:`all_reduce_sum` and
    unpacked (new float64 CPU tensors, in the order and shapes given).

    Shape:
        each tensor: any; each output: as its input.
    """
    if not tensors:
        return {}
    flat = [value.detach().reshape(-1).to("cpu", torch.float64) for value in tensors.values()]
    summed = all_reduce_sum(torch.cat(flat), context)
    out: dict[str, torch.Tensor] = {}
    offset = 0
    for (name, value), part in zip(tensors.items(), flat, strict=True):
        out[name] = summed[offset : offset + part.numel()].reshape(value.shape).clone()
        offset += part.numel()
    return out


def all_gather_objects(item: T, context: DistributedContext) -> list[T]:
    """Every process's ``item`` (picklable), in rank order; ``[item]`` for one process."""
    if not context.active:
        return [item]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, item)
    return gathered


def broadcast_object(item: T, context: DistributedContext) -> T:
    """Rank 0's ``item`` on every process (so that decisions agree bit for bit)."""
    if not context.active:
        return item
    holder: list[Any] = [item]
    dist.broadcast_object_list(holder, src=0)
    result: T = holder[0]
    return result


def broadcast_buffers(model: torch.nn.Module, context: DistributedContext) -> None:
    """Copy rank 0's buffers (batch-norm statistics) into every process's model, in place.

    Under DistributedDataParallel each process updates its running statistics with its
    own batches; before validation (and before rank 0 saves), every process takes rank
    0's, so all of them evaluate the model that is saved.
    """
    if not context.active:
        return
    with torch.no_grad():
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


class ShardSampler(Sampler[int]):
    """Every ``world_size``-th position from ``rank``, in order, without padding.

    For validation: each item is seen by exactly one process, so sums over processes
    equal the sums over the whole set.

    Args:
        size: The number of items.
        context: This process's place.
    """

    def __init__(self, size: int, context: DistributedContext) -> None:
        self.positions = range(context.rank, size, context.world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.positions)

    def __len__(self) -> int:
        return len(self.positions)


def train_sampler(
    dataset: Sized, context: DistributedContext, *, seed: int, epoch: int, shuffle: bool = True
) -> DistributedSampler[int]:
    """The training order of an epoch: shuffled by ``(seed, epoch)``, then sharded.

    Every process draws the same permutation of all items (torch's
    :class:`~torch.utils.data.DistributedSampler`, seeded with ``seed * 1_000_003`` and
    ``set_epoch(epoch)``) and takes every ``world_size``-th item from its rank, the
    permutation padded by repeating its start so that every process runs the same number
    of steps. With a per-process batch ``B``, global batch ``k`` is items ``k * B *
    world_size`` to ``(k + 1) * B * world_size`` of the permutation, whatever the
    number of processes.

    Args:
        dataset: The items (only their number is used).
        context: This process's place.
        seed: The run's seed.
        epoch: The epoch, 0-based.
        shuffle: Shuffle (training) or keep the order.
    """
    sampler: DistributedSampler[int] = DistributedSampler(
        dataset,  # type: ignore[arg-type]
        num_replicas=context.world_size,
        rank=context.rank,
        shuffle=shuffle,
        seed=seed * 1_000_003,
        drop_last=False,
    )
    sampler.set_epoch(epoch)
    return sampler


def process_count_change(state: Mapping[str, Any], context: DistributedContext) -> list[str]:
    """A resume-check difference when the number of processes changed (else nothing).

    The global batch is the per-process batch times the number of processes, so a run
    resumes only with as many processes as it had (a state without the entry had one).
    """
    saved = int(state.get("world_size", 1))
    if saved == context.world_size:
        return []
    return [
        f"processes: {saved} -> {context.world_size} (the global batch is batch_size x "
        f"processes; resume with torchrun --nproc_per_node {saved}"
        + (" or without torchrun" if saved == 1 else "")
        + ")"
    ]
