"""How a training loop runs: device, precision, memory format, compilation, processes.

:class:`TrainingRuntime` gathers what both training loops do the same way once the
settings are resolved: put the model on its device (channels-last if asked), build
AdamW (fused on CUDA), wrap the model for the training step (DistributedDataParallel
under torchrun, then ``torch.compile`` if asked), move batches (non-blocking, from pinned
memory on CUDA), augment them on the device, build the epoch's loaders (sharded across
processes) and time the epoch (:class:`EpochClock`). This module imports torch.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from radiogenomics.data.segmentation_dataset import AugmentConfig
from radiogenomics.errors import InputNotFoundError
from radiogenomics.training._common import (
    AmpMode,
    EarlyStopping,
    RunFiles,
    append_history,
    load_model_state,
    load_rng_state,
    read_history,
    read_training_state,
    repair_weight_files,
    resolve_amp,
    write_epoch_checkpoint,
    write_text,
)
from radiogenomics.training._distributed import (
    DistributedContext,
    ShardSampler,
    all_reduce_sum,
    barrier,
    broadcast_buffers,
    context_from_env,
    init_process_group,
    process_device,
    train_sampler,
)
from radiogenomics.training.augment import DeviceAugment
from radiogenomics.training.settings import AugmentOn, TrainingSettings, check_fast_path

__all__ = [
    "AugmentOn",
    "EpochClock",
    "TrainingRuntime",
    "check_fast_path",
    "load_optimizer_state",
]

T = TypeVar("T")


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    """Load a saved optimizer state, keeping this optimizer's kernel choice.

    ``Optimizer.load_state_dict`` takes every group setting from the file, ``fused`` and
    ``foreach`` included; a run resumed on another device keeps the kernels chosen for
    its own device (fused on CUDA) instead. The arithmetic is the same.
    """
    groups = [
        {**saved, "fused": current.get("fused"), "foreach": current.get("foreach")}
        for saved, current in zip(state["param_groups"], optimizer.param_groups, strict=True)
    ]
    optimizer.load_state_dict({**state, "param_groups": groups})


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class EpochClock:
    """Times a training epoch: waiting on the loader vs the rest (the model's step).

    Iterate the loader through :meth:`batches`: the time spent in the loader's
    ``next`` (and its start) counts as ``data_seconds``, the time between two batches
    as ``model_seconds`` (on CUDA after a ``torch.cuda.synchronize``, so that queued
    kernels count where they run).

    Attributes:
        device: The training device.
        data_seconds: Seconds spent waiting on the loader.
        model_seconds: Seconds spent in the training steps.
        images: Images processed (slices for stage 1, frames for stage 2).
    """

    device: torch.device
    data_seconds: float = 0.0
    model_seconds: float = 0.0
    images: int = 0

    def batches(self, loader: Iterable[T]) -> Iterator[T]:
        """The loader's batches, timed."""
        start = time.perf_counter()
        iterator = iter(loader)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                self.data_seconds += time.perf_counter() - start
                return
            loaded = time.perf_counter()
            self.data_seconds += loaded - start
            yield batch
            _synchronize(self.device)
            start = time.perf_counter()
            self.model_seconds += start - loaded

    def count(self, images: int) -> None:
        """Add the images of a batch."""
        self.images += int(images)

    def summary(self, context: DistributedContext) -> dict[str, float]:
        """``train_images_per_second`` (every process's images over this process's
        seconds), ``data_seconds`` and ``model_seconds`` (this process's).

        A collective under several processes: every process must call it.
        """
        images = float(all_reduce_sum(torch.tensor([float(self.images)]), context)[0])
        seconds = self.data_seconds + self.model_seconds
        return {
            "train_images_per_second": round(images / seconds, 2) if seconds > 0 else 0.0,
            "data_seconds": round(self.data_seconds, 3),
            "model_seconds": round(self.model_seconds, 3),
        }


def _augment_seed(seed: int, epoch: int, rank: int) -> int:
    words = np.random.SeedSequence([seed, epoch, rank, 0xA06]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


@dataclass
class TrainingRuntime:
    """The resolved way a training loop runs (see the module notes).

    Build it with :meth:`create`.

    Attributes:
        device: This process's training device.
        amp: The autocast dtype (None: full precision).
        channels_last: Whether the model and its 4-D inputs are channels-last.
        compile: Whether the training step runs a ``torch.compile``-d model.
        context: This process's place among the training processes.
        augment: The device augmentation (None: augmentation, if any, is the loader's).
        seed: The run's seed.
    """

    device: torch.device
    amp: torch.dtype | None
    channels_last: bool
    compile: bool
    context: DistributedContext
    augment: DeviceAugment | None
    seed: int
    batch_size: int = 1
    num_workers: int = 0
    _wrapped: torch.nn.Module | None = field(default=None, repr=False)
    _trainable: tuple[bool, ...] = field(default=(), repr=False)

    @classmethod
    def from_settings(
        cls, settings: TrainingSettings, *, context: DistributedContext | None = None
    ) -> TrainingRuntime:
        """:meth:`create` from a training config (and its batch size and workers)."""
        runtime = cls.create(
            device=settings.device,
            amp=settings.amp,
            channels_last=settings.channels_last,
            compile=settings.compile,
            augment=settings.augment,
            augment_on=settings.augment_on,
            seed=settings.seed,
            context=context,
        )
        runtime.batch_size, runtime.num_workers = settings.batch_size, settings.num_workers
        return runtime

    @classmethod
    def create(
        cls,
        *,
        device: str,
        amp: AmpMode,
        channels_last: bool | None,
        compile: bool,
        augment: bool,
        augment_on: AugmentOn,
        seed: int,
        context: DistributedContext | None = None,
    ) -> TrainingRuntime:
        """Resolve the settings: the process's device and group, precision, layout.

        Initialises the default process group under torchrun (see
        :func:`~radiogenomics.training._distributed.init_process_group`).

        Args:
            device: The ``device`` setting.
            amp: The ``amp`` setting.
            channels_last: The ``channels_last`` setting (None: on for CUDA).
            compile: The ``compile`` setting.
            augment: Whether training batches are augmented.
            augment_on: Where (``"device"``: a :class:`DeviceAugment` here).
            seed: The run's seed.
            context: This process's place; default: from the environment.
        """
        context = context or context_from_env()
        resolved = process_device(device, context)
        init_process_group(context, resolved)
        return cls(
            device=resolved,
            amp=resolve_amp(amp, resolved),
            channels_last=resolved.type == "cuda" if channels_last is None else channels_last,
            compile=compile,
            context=context,
            augment=DeviceAugment(AugmentConfig()) if augment and augment_on == "device" else None,
            seed=seed,
        )

    def autocast(self) -> AbstractContextManager[Any]:
        """The mixed-precision context of forward passes."""
        return torch.autocast(
            self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None
        )

    def place(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move ``model`` to the device (channels-last if set), in place; returns it."""
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def adamw(
        self, parameters: Iterable[torch.nn.Parameter], *, lr: float, weight_decay: float
    ) -> torch.optim.AdamW:
        """AdamW, with the fused kernel on CUDA (one kernel for all parameters)."""
        return torch.optim.AdamW(
            parameters, lr=lr, weight_decay=weight_decay, fused=self.device.type == "cuda"
        )

    def training_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to call in the training step.

        Under several processes: ``model`` in DistributedDataParallel (built again when
        the set of trainable parameters changes, as DDP reduces the gradients of the
        parameters that were trainable when it was built). Then ``torch.compile`` if set.
        """
        trainable = tuple(p.requires_grad for p in model.parameters())
        if self._wrapped is not None and (not self.context.active or trainable == self._trainable):
            return self._wrapped
        self._wrapped = None
        gc.collect()  # the previous DDP wrapper's gradient hooks go with it
        wrapped = model
        if self.context.active:
            from torch.nn.parallel import DistributedDataParallel

            wrapped = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if self.compile:
            wrapped = torch.compile(wrapped)  # type: ignore[assignment]
        self._wrapped, self._trainable = wrapped, trainable
        return wrapped

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` on the device (an asynchronous copy from pinned memory on CUDA)."""
        return tensor.to(self.device, non_blocking=True)

    def memory_format(self, images: torch.Tensor) -> torch.Tensor:
        """4-D images in the model's memory format (channels-last if set)."""
        if self.channels_last and images.ndim == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def augment_generator(self, epoch: int) -> torch.Generator | None:
        """The epoch's device-augmentation generator (per process); None without one."""
        if self.augment is None:
            return None
        return torch.Generator().manual_seed(_augment_seed(self.seed, epoch, self.context.rank))

    def train_loader(
        self, dataset: Dataset[Any], *, batch_size: int, num_workers: int, epoch: int
    ) -> DataLoader[Any]:
        """The epoch's training batches of this process (shuffled by seed and epoch).

        See :func:`~radiogenomics.training._distributed.train_sampler`: batch ``k`` of
        every process together make the same global batch whatever the number of
        processes.
        """
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=train_sampler(dataset, self.context, seed=self.seed, epoch=epoch),  # type: ignore[arg-type]
            generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch),
            num_workers=num_workers,
            pin_memory=self.device.type == "cuda",
        )

    def val_loader(
        self, dataset: Dataset[Any], *, batch_size: int, num_workers: int
    ) -> tuple[DataLoader[Any], range]:
        """This process's share of the validation items, in order, and their positions."""
        sampler = ShardSampler(len(dataset), self.context)  # type: ignore[arg-type]
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=num_workers,
            pin_memory=self.device.type == "cuda",
        )
        return loader, sampler.positions

    def clock(self) -> EpochClock:
        """A fresh epoch timer."""
        return EpochClock(self.device)

    def epoch_batches(
        self, dataset: Dataset[Any], *, epoch: int, desc: str, progress: bool
    ) -> tuple[Any, EpochClock, torch.Generator | None]:
        """The epoch's training batches, timed, with a progress bar on rank 0.

        Returns:
            ``(bar, clock, generator)``: the batches (a tqdm bar to iterate and close),
            their timer, and the device-augmentation generator (None without one).
        """
        from tqdm.auto import tqdm

        loader = self.train_loader(
            dataset, batch_size=self.batch_size, num_workers=self.num_workers, epoch=epoch
        )
        clock = self.clock()
        bar = tqdm(
            clock.batches(loader),
            total=len(loader),
            desc=desc,
            unit="batch",
            leave=False,
            disable=not (progress and self.context.is_main),
        )
        return bar, clock, self.augment_generator(epoch)

    def train_step(
        self,
        optimizer: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        forward: Callable[[], torch.Tensor],
        loss_of: Callable[[torch.Tensor], torch.Tensor],
    ) -> float:
        """One optimizer step: ``forward()`` under autocast, ``loss_of`` on its float32
        output, the scaled backward pass and the step. Returns the loss."""
        optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            output = forward()
        loss = loss_of(output.float())
        scaled: Any = scaler.scale(loss)
        scaled.backward()
        scaler.step(optimizer)
        scaler.update()
        return float(loss.detach())

    def end_training(
        self, model: torch.nn.Module, clock: EpochClock, total: float, count: int
    ) -> tuple[float, dict[str, float]]:
        """Close an epoch's training half (a collective under several processes).

        Sums the loss over every process, takes the throughput, and gives every process
        rank 0's buffers for validation.

        Args:
            model: The model (not its training wrapper).
            clock: The epoch's timer.
            total: This process's sum of item losses.
            count: Its number of items.

        Returns:
            ``(train_loss, speed)``: the mean training loss over every process, and
            :meth:`EpochClock.summary`.
        """
        speed = clock.summary(self.context)
        sums = all_reduce_sum(torch.tensor([total, float(count)]), self.context)
        broadcast_buffers(model, self.context)
        return float(sums[0]) / max(float(sums[1]), 1.0), speed

    def resume(
        self,
        files: RunFiles,
        *,
        check: Callable[[Mapping[str, Any]], None],
        model: torch.nn.Module,
        load_weights: Callable[[], None],
        optimizer: torch.optim.Optimizer,
        stopping: EarlyStopping,
        states: Mapping[str, Any],
    ) -> tuple[int, list[dict[str, Any]]]:
        """Restore an interrupted run (every process reads rank 0's files).

        The weights come from the state (the commit point); rank 0 then rewrites
        ``last.safetensors`` and ``best.safetensors`` if a crash left them behind it
        (:func:`~radiogenomics.training._common.repair_weight_files`).

        Args:
            files: The run folder's files.
            check: Refuses a state whose settings differ (see ``check_resume``).
            model: Takes the saved weights.
            load_weights: Loads ``files.last`` into the model, for a state written
                before states held the weights.
            optimizer: Takes the saved optimizer state (its own kernels kept).
            stopping: Takes the early-stopping counters.
            states: Other objects with ``load_state_dict`` (scheduler, scaler), by the
                name of their entry in the state.

        Returns:
            ``(epoch, history)``: the epochs completed and their log lines.

        Raises:
            CorruptFileError: The state is refused (it holds other Python objects),
                damaged, or not a training state.
            ConfigurationError: ``check`` refuses it, or its weights do not fit.
            InputNotFoundError: A state without weights and no ``last.safetensors``.
        """
        state = read_training_state(files.state)
        check(state)
        if "model" in state:
            load_model_state(
                model,
                state["model"],
                files.state,
                hint="Resume with the settings of the interrupted run, or use another --out.",
            )
        elif files.last.is_file():
            load_weights()
        else:
            raise InputNotFoundError(
                "the training state was written by an older version, which kept the "
                "weights in last.safetensors only, and that file is missing; restore it, "
                "or delete last.state.pt to start the run afresh.",
                path=files.last,
            )
        load_optimizer_state(optimizer, state["optimizer"])
        for name, holder in states.items():
            holder.load_state_dict(state[name])
        stopping.restore(state)
        load_rng_state(state["rng"])
        start = int(state["epoch"])
        history = read_history(files.log, until=start)
        if self.context.is_main:  # no process reads them: the weights came from the state
            repair_weight_files(files, state)
        return start, history

    def write_run_files(
        self, files: RunFiles, history: list[dict[str, Any]], texts: Mapping[Path, Any]
    ) -> None:
        """After every process has read the folder: rank 0 rewrites the history (up to
        the resumed epoch) and writes ``texts`` (path -> JSON-ready value)."""
        barrier(self.context)
        if self.context.is_main:
            write_text(files.log, "".join(json.dumps(h) + "\n" for h in history))
            for path, value in texts.items():
                write_text(path, json.dumps(value, indent=2) + "\n")

    def commit_epoch(
        self,
        files: RunFiles,
        history: list[dict[str, Any]],
        line: dict[str, Any],
        *,
        began: float,
        model: torch.nn.Module,
        scores: Mapping[str, float],
        stopping: EarlyStopping,
        metadata: Mapping[str, str],
        training: Mapping[str, Any],
        settings: Mapping[str, str],
    ) -> None:
        """Rank 0 writes the epoch's history line, then its checkpoints; all then wait.

        The line comes first, so that a crash between the two loses nothing: the resumed
        run drops lines past the state's epoch and runs that epoch again. The
        checkpoints are :func:`~radiogenomics.training._common.write_epoch_checkpoint`'s,
        for the epoch, validation loss and improvement of ``line``; the state also records
        the number of processes (``world_size``).

        Args:
            files: The run folder's files.
            history: The lines so far (``line`` is added, with ``seconds``).
            line: The epoch's metrics, with ``epoch``, ``val_loss`` and ``best``.
            began: ``time.perf_counter()`` at the epoch's start (``seconds``: from then
                to now, before the checkpoints are written).
            model: The model whose weights are saved.
            scores: The validation scores.
            stopping: The early-stopping counters after this epoch.
            metadata: The weights' metadata shared by every epoch.
            training: The state dicts to resume from.
            settings: JSON strings that a resumed run must match.
        """
        line = {**line, "seconds": round(time.perf_counter() - began, 3)}
        if self.context.is_main:
            append_history(files.log, history, line)
            write_epoch_checkpoint(
                files,
                model,
                epoch=line["epoch"],
                val_loss=line["val_loss"],
                scores=scores,
                improved=line["best"],
                metadata=metadata,
                training={**training, "world_size": self.context.world_size},
                stopping=stopping,
                settings=settings,
            )
        else:
            history.append(line)
        barrier(self.context)
