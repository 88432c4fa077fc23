"""Training and inference throughput of both models: plain fp32 PyTorch vs the fast paths.

For the stage 1 model (Unet++/DenseNet121) and the stage 2 model (ECA-NFNet-L0 +
BiLSTM over 35-frame chunks), side by side in one run on one device:

* **plain fp32** (model only): a hand-written minimal loop, model + AdamW, random
  tensors already on the device, no autocast, contiguous (NCHW) memory;
* **optimised** (model only): bf16 autocast where the device supports it,
  channels-last weights and inputs, fused AdamW on CUDA, ``torch.compile`` with
  ``--compile``; inference under ``torch.inference_mode``;
* **library**: inference through :class:`~radiogenomics.inference.MaskPredictor`
  (uint8 slices in, zoom, normalisation, inverse zoom) and through the stage 2 prediction
  code of ``radiogenomics predict`` (chunking, the 1.2 zoom TTA, sigmoid, aggregation),
  with the optimised settings; training through ``train_segmentation`` /
  ``train_classification`` on synthetic data written to disk (data loading,
  augmentation, validation and checkpoints included). Its throughput is the last
  epoch's ``train_images_per_second`` from ``metrics.jsonl`` when the training loop
  writes it (the loader and the training steps, without validation), else the epoch's
  wall time.

It also checks that the optimised forward pass agrees with fp32 (largest absolute
difference of the logits and of the probabilities, on the same weights and inputs) and
counts FLOPs (``torch.utils.flop_counter``) to give the achieved TFLOP/s and, on a GPU
whose peak it knows (or with ``--peak-tflops``), the time floor of each batch.

Images are slices for stage 1 and frames for stage 2 (a chunk is 35 frames).

Benchmarks
----------
Defaults on CUDA are the reference's: 224 px, Unet++/DenseNet121 train batch 32 and
inference batch 128, ECA-NFNet-L0 + BiLSTM (hidden 64) with 35-frame chunks, train batch
4 chunks and inference batch 16. On CPU the defaults are small (64 px, batches 4/8 and
1/2, the real architectures, 3 timed iterations) so the run ends in a few minutes on
2 cores; ``--tiny`` swaps in tiny models (Unet/``tu-test_resnet``, ``test_resnet``,
8 frames) for a smoke test. On CPU only the ratios measured in the same run mean
anything.

    .venv/bin/python benchmarks/throughput.py                     # CPU, small settings
    .venv/bin/python benchmarks/throughput.py --tiny              # CPU smoke test
    .venv/bin/python benchmarks/throughput.py --device cuda       # reference sizes
    .venv/bin/python benchmarks/throughput.py --device cuda --compile --iterations 50

Goals on a GPU (issue 6): library training >= 2x plain fp32, library inference >= 2.5x
plain fp32, end-to-end training >= 90 % of optimised model-only training. Writes JSON
to ``--json`` (default ``benchmarks/results/throughput.json``) and a markdown table
beside it, and prints the table.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from _common import Log, device_name, machine, write_results

# The reference table (issue 6): NVIDIA H200, 224 x 224, plain PyTorch, images per second.
REFERENCE_H200 = {
    "segmentation": {
        "train": {"fp32": 290.0, "bf16_channels_last": 407.0},
        "infer": {"fp32": 1357.0, "bf16_channels_last": 1791.0},
    },
    "classification": {
        "train": {"fp32": 1784.0, "bf16_channels_last": 2526.0},
        "infer": {"fp32": 6107.0, "bf16_channels_last": 8415.0},
    },
}

# Dense peak TFLOP/s (fp32 without tensor cores, bf16 tensor cores) of GPUs we know.
KNOWN_PEAKS = {"H100": (67.0, 989.0), "H200": (67.0, 989.0), "A100": (19.5, 312.0)}


# -- settings ----------------------------------------------------------------------------


@dataclasses.dataclass
class Settings:
    device: str
    image_size: int
    seg_architecture: str
    seg_encoder: str
    backbone: str
    hidden_size: int
    frames: int
    stride: int
    seg_train_batch: int
    seg_infer_batch: int
    cls_train_batch: int
    cls_infer_batch: int
    iterations: int
    warmup: int
    amp: str
    compile: bool
    library: bool
    library_steps: int
    library_epochs: int
    workers: int
    threads: int
    tiny: bool


def _settings(args: argparse.Namespace) -> Settings:
    import torch

    from radiogenomics.training import resolve_device

    resolved = resolve_device(args.device)
    device, cuda = str(resolved), resolved.type == "cuda"

    def pick(value: Any, on_cuda: Any, on_cpu: Any) -> Any:
        return value if value is not None else (on_cuda if cuda else on_cpu)

    tiny = args.tiny
    return Settings(
        device=device,
        image_size=pick(args.image_size, 224, 64),
        seg_architecture=args.seg_architecture or ("Unet" if tiny else "UnetPlusPlus"),
        seg_encoder=args.encoder or ("tu-test_resnet" if tiny else "densenet121"),
        backbone=args.backbone or ("test_resnet" if tiny else "eca_nfnet_l0"),
        hidden_size=args.hidden_size,
        frames=pick(args.frames, 35, 8 if tiny else 35),
        stride=5,
        seg_train_batch=pick(args.seg_train_batch, 32, 4),
        seg_infer_batch=pick(args.seg_infer_batch, 128, 8),
        cls_train_batch=pick(args.cls_train_batch, 4, 1),
        cls_infer_batch=pick(args.cls_infer_batch, 16, 2),
        iterations=pick(args.iterations, 20, 3),
        warmup=pick(args.warmup, 3, 1),
        amp=args.amp,
        compile=args.compile,
        library=not args.no_library,
        library_steps=pick(args.library_steps, 40, 6),
        library_epochs=2,
        workers=pick(args.workers, min(8, max((os.cpu_count() or 2) - 2, 0)), 0),
        threads=pick(args.threads, torch.get_num_threads(), 1),
        tiny=tiny,
    )


def _fast_dtype(amp: str, device: Any) -> Any:
    """The optimised path's autocast dtype: bf16 where the device runs it natively."""
    import torch

    from radiogenomics.inference import resolve_inference_amp

    if amp != "auto":
        return resolve_inference_amp(amp, device)  # type: ignore[arg-type]
    if device.type == "cuda":
        return resolve_inference_amp("auto", device)
    mkldnn_bf16 = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if device.type == "cpu" and mkldnn_bf16 is not None and mkldnn_bf16():
        return torch.bfloat16
    return None


def _amp_name(dtype: Any) -> str:
    import torch

    return {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


# -- timing ------------------------------------------------------------------------------


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(
    steps: dict[str, Callable[[], object]], *, device: Any, warmup: int, iterations: int
) -> dict[str, float]:
    """Median seconds of one call of each step, the steps interleaved (a, b, a, b, ...).

    Interleaving gives every step the same share of whatever else the machine is doing,
    so that their ratios hold on a busy machine.
    """
    for _ in range(warmup):
        for step in steps.values():
            step()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(iterations):
        for name, step in steps.items():
            began = time.perf_counter()
            step()
            _sync(device)
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


def _peak_memory_mb(device: Any) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    value = torch.cuda.max_memory_allocated(device) / 2**20
    torch.cuda.reset_peak_memory_stats(device)
    return round(value, 1)


# -- the two models ----------------------------------------------------------------------


@dataclasses.dataclass
class ModelSpec:
    """One model, how to make its inputs and targets, and how images are counted."""

    name: str
    description: str
    build: Callable[[], Any]
    inputs: Callable[[int, Any], Any]  # (batch, device) -> input tensor
    targets: Callable[[int, Any], Any]  # (batch, device) -> random 0/1 targets
    images_per_item: int  # slices per slice (1) or frames per chunk
    train_batch: int
    infer_batch: int


def _specs(s: Settings) -> list[ModelSpec]:
    import torch

    from radiogenomics.models import SegmentationModelConfig, SequenceClassifier

    size = s.image_size
    seg_config = SegmentationModelConfig(
        architecture=s.seg_architecture, encoder=s.seg_encoder, image_size=size
    )

    def build_seg() -> Any:
        torch.manual_seed(0)
        return seg_config.create()

    def build_cls() -> Any:
        torch.manual_seed(0)
        return SequenceClassifier(
            backbone=s.backbone, hidden_size=s.hidden_size, sequence_length=s.frames
        )

    def seg_inputs(batch: int, device: Any) -> Any:
        return torch.randn(batch, 3, size, size, device=device)

    def cls_inputs(batch: int, device: Any) -> Any:
        return torch.randn(batch, s.frames, 3, size, size, device=device)

    def seg_targets(batch: int, device: Any) -> Any:
        return (torch.rand(batch, 2, size, size, device=device) > 0.5).float()

    def cls_targets(batch: int, device: Any) -> Any:
        return (torch.rand(batch, device=device) > 0.5).float()

    return [
        ModelSpec(
            "segmentation",
            f"{s.seg_architecture}/{s.seg_encoder}, 2 classes, {size} px",
            build_seg,
            seg_inputs,
            seg_targets,
            1,
            s.seg_train_batch,
            s.seg_infer_batch,
        ),
        ModelSpec(
            "classification",
            f"{s.backbone} + BiLSTM({s.hidden_size}), {s.frames}-frame chunks, {size} px",
            build_cls,
            cls_inputs,
            cls_targets,
            s.frames,
            s.cls_train_batch,
            s.cls_infer_batch,
        ),
    ]


def _channels_last_input(x: Any) -> Any:
    import torch

    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def _train_step(
    model: Any, x: Any, *, dtype: Any, fused: bool, spec: ModelSpec
) -> Callable[[], object]:
    import torch
    import torch.nn.functional as F

    model.train()
    options: dict[str, Any] = {"lr": 1e-4}
    if fused:
        options["fused"] = True
    optimizer = torch.optim.AdamW(model.parameters(), **options)
    target = spec.targets(x.shape[0], x.device)
    scaler = torch.amp.GradScaler(x.device.type, enabled=dtype == torch.float16)

    def step() -> object:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            output = model(x)
        loss = F.binary_cross_entropy_with_logits(output.float(), target)
        scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        scaler.step(optimizer)
        scaler.update()
        return loss

    return step


def _infer_step(model: Any, x: Any, *, dtype: Any, fast: bool) -> Callable[[], object]:
    import torch

    model.eval()

    def step() -> object:
        if fast:
            with (
                torch.inference_mode(),
                torch.autocast(
                    x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None
                ),
            ):
                return model(x)
        with torch.no_grad():
            return model(x)

    return step


def _count_flops(model: Any, x: Any) -> tuple[float, float]:
    """FLOPs per item of one forward pass and of one training step (forward + backward)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    forward = counter.get_total_flops() / x.shape[0]
    model.train()
    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return float(forward), float(counter.get_total_flops() / x.shape[0])


# -- the library's own paths -------------------------------------------------------------


def _library_segmentation_inference(
    spec: ModelSpec, base: Any, s: Settings, device: Any, dtype: Any
) -> Callable[[], object]:
    """One batch of uint8 slices through ``MaskPredictor.predict_slices``."""
    import numpy as np

    from radiogenomics.inference import MaskPredictor

    predictor = MaskPredictor(
        copy.deepcopy(base),
        image_size=s.image_size,
        batch_size=spec.infer_batch,
        device=device,
        amp=_amp_name(dtype),  # type: ignore[arg-type]
        channels_last=True,
        compile=s.compile,
    )
    rng = np.random.default_rng(0)
    size = (spec.infer_batch, s.image_size, s.image_size)
    slices = rng.integers(0, 256, size=size, dtype=np.uint8)
    return lambda: predictor.predict_slices(slices)


class _EmptyMasks:
    """A mask function of empty masks (the benchmark's recipe, never called)."""

    def __call__(self, slices: Any) -> Any:
        import numpy as np

        return np.zeros((len(slices), 2, *slices.shape[1:]), dtype=np.uint8)

    def __repr__(self) -> str:
        return "EmptyMasks()"


def _library_classification_inference(
    spec: ModelSpec, base: Any, s: Settings, device: Any, dtype: Any
) -> Callable[[], object]:
    """One batch of chunks of one series through the stage 2 prediction code."""
    import numpy as np

    from radiogenomics.data import FrameRecipe
    from radiogenomics.inference import (
        REFERENCE_TTA,
        ClassificationRun,
        PatientAggregator,
        prepare_inference_model,
    )
    from radiogenomics.inference import predict as predict_module

    model = prepare_inference_model(
        copy.deepcopy(base).eval(), device=device, channels_last=True, compile=s.compile
    )
    run = ClassificationRun(
        path=Path("benchmark"),
        model=model,
        mri_type="FLAIR",
        recipe=FrameRecipe(_EmptyMasks()),  # not called: the step is given frames
        image_size=s.image_size,
        sequence_length=s.frames,
        stride=s.stride,
        last="pad",
    )
    rng = np.random.default_rng(0)
    n = s.frames + s.stride * (spec.infer_batch - 1)  # exactly infer_batch chunks
    frames = rng.integers(0, 256, size=(n, s.image_size, s.image_size, 3), dtype=np.uint8)

    def step() -> object:
        # The per-series step of run_prediction: ChunkDataset, DataLoader, TTA, aggregation.
        return predict_module._predict_chunks(
            run,
            "00000",
            frames,
            tta=REFERENCE_TTA,
            batch_size=spec.infer_batch,
            device=device,
            amp=dtype,
            aggregator=PatientAggregator(),
        )

    return step


def _config_with(cls: type, **values: Any) -> Any:
    """``cls(**values)`` keeping only the fields ``cls`` has (speed fields may be absent)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names}), sorted(set(values) - names)


def _epoch_throughput(history: list[dict[str, Any]], images: int) -> dict[str, Any]:
    last = history[-1]
    if "train_images_per_second" in last:
        out = {
            "images_per_second": float(last["train_images_per_second"]),
            "source": "metrics.jsonl train_images_per_second (last epoch)",
        }
        for key in ("data_seconds", "model_seconds"):
            if key in last:
                out[key] = last[key]
        return out
    return {
        "images_per_second": images / float(last["seconds"]),
        "source": "epoch wall time incl. validation and checkpoint (no train_images_per_second)",
    }


def _library_segmentation_training(
    spec: ModelSpec, s: Settings, device: Any, dtype: Any, work: Path
) -> dict[str, Any]:
    from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
    from radiogenomics.models import SegmentationModelConfig
    from radiogenomics.testing import write_brats_cohort
    from radiogenomics.training import SegmentationTrainConfig, train_segmentation

    n_train = spec.train_batch * s.library_steps
    n_val = spec.train_batch
    # About 80 slices per 64 x 64 x 48 case: enough cases for the rows asked for.
    n_cases = max(2, math.ceil((n_train + n_val) / 60))
    cases = write_brats_cohort(work / "task1", n_cases=n_cases, seed=0)
    prepare_segmentation(
        cases,
        work / "prepared",
        config=SegmentationPrepConfig(size=s.image_size),
        workers=max(1, min(s.workers, 8)),
    )
    rows = sum(1 for _ in (work / "prepared" / "manifest.csv").open()) - 1
    n_train = min(n_train, rows - n_val)
    config, missing = _config_with(
        SegmentationTrainConfig,
        epochs=s.library_epochs,
        batch_size=spec.train_batch,
        warmup_epochs=0,
        patience=None,
        image_size=s.image_size,
        amp=_amp_name(dtype),
        num_workers=s.workers,
        device=s.device,
        channels_last=True,
        compile=s.compile,
    )
    model_config = SegmentationModelConfig(
        architecture=s.seg_architecture, encoder=s.seg_encoder, image_size=s.image_size
    )
    began = time.perf_counter()
    result = train_segmentation(
        work / "prepared",
        work / "seg-run",
        config=config,
        model_config=model_config,
        split=(range(n_train), range(n_train, n_train + n_val)),
        progress=False,
    )
    wall = time.perf_counter() - began
    out = _epoch_throughput(result.history, n_train)
    out.update(
        {
            "path": "train_segmentation on a prepared synthetic store",
            "train_images_per_epoch": n_train,
            "epochs": s.library_epochs,
            "wall_seconds": round(wall, 2),
            "config_fields_missing": missing,
            "history": result.history,
        }
    )
    return out


def _library_classification_training(
    spec: ModelSpec, s: Settings, device: Any, dtype: Any, work: Path
) -> dict[str, Any]:
    from radiogenomics.testing import write_synthetic_frame_store
    from radiogenomics.training import ClassificationTrainConfig, train_classification

    # 6 patients, a third held out (stratified); chunks per series so that the
    # training side has about library_steps batches.
    chunks_per_series = max(1, math.ceil(spec.train_batch * s.library_steps / 4))
    n_frames = s.frames + s.stride * (chunks_per_series - 1)
    write_synthetic_frame_store(
        work / "frames", n_patients=6, size=s.image_size, frames=(n_frames, n_frames), seed=0
    )
    config, missing = _config_with(
        ClassificationTrainConfig,
        mri_type="FLAIR",
        backbone=s.backbone,
        hidden_size=s.hidden_size,
        sequence_length=s.frames,
        stride=s.stride,
        image_size=s.image_size,
        batch_size=spec.train_batch,
        lr=1e-4,
        warmup_epochs=0,
        epochs=s.library_epochs,
        patience=None,
        val_fraction=1 / 3,
        amp=_amp_name(dtype),
        num_workers=s.workers,
        device=s.device,
        channels_last=True,
        compile=s.compile,
    )
    began = time.perf_counter()
    result = train_classification(work / "frames", work / "cls-run", config=config, progress=False)
    wall = time.perf_counter() - began
    train_chunks = len(result.train_patients) * chunks_per_series
    out = _epoch_throughput(result.history, train_chunks * s.frames)
    out.update(
        {
            "path": "train_classification on a synthetic frame store",
            "train_images_per_epoch": train_chunks * s.frames,
            "train_chunks_per_epoch": train_chunks,
            "epochs": s.library_epochs,
            "wall_seconds": round(wall, 2),
            "config_fields_missing": missing,
            "history": result.history,
        }
    )
    return out


# -- one model, every path ---------------------------------------------------------------


def _agreement(spec: ModelSpec, base: Any, fast: Any, x: Any, dtype: Any) -> dict[str, Any]:
    import torch

    base.eval()
    fast.eval()
    with torch.no_grad():
        reference = base(x).float()
    with (
        torch.inference_mode(),
        torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None),
    ):
        got = fast(_channels_last_input(x)).float()
    logits = (got - reference).abs().max().item()
    probabilities = (torch.sigmoid(got) - torch.sigmoid(reference)).abs().max().item()
    decided = ((got > 0) == (reference > 0)).float().mean().item()
    return {
        "max_abs_logit_diff": logits,
        "max_abs_probability_diff": probabilities,
        "logit_scale": reference.abs().max().item(),
        "same_decision_fraction": decided,
    }


def _bench_model(
    spec: ModelSpec, s: Settings, work: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    import torch

    device = torch.device(s.device)
    dtype = _fast_dtype(s.amp, device)
    fused = device.type == "cuda"
    base = spec.build().to(device)
    params = sum(p.numel() for p in base.parameters())
    log(f"{spec.name}: {spec.description}, {params / 1e6:.2f} M parameters")
    out: dict[str, Any] = {
        "model": spec.description,
        "parameters": params,
        "train_batch": spec.train_batch,
        "infer_batch": spec.infer_batch,
        "images_per_item": spec.images_per_item,
        "fast_amp": _amp_name(dtype),
        "fused_adamw": fused,
        "compile": s.compile,
    }

    # FLOPs on one item, counted on a throw-away copy.
    try:
        forward, train = _count_flops(copy.deepcopy(base), spec.inputs(1, device))
        out["gflops_per_image"] = {
            "forward": forward / 1e9 / spec.images_per_item,
            "train_step": train / 1e9 / spec.images_per_item,
        }
    except Exception as error:  # counting is best effort
        out["gflops_per_image"] = {"error": repr(error)}

    def images_per_second(seconds: float, batch: int) -> float:
        return batch * spec.images_per_item / seconds

    runs: dict[str, dict[str, Any]] = {}

    def record(name: str, seconds: float, batch: int, **extra: Any) -> None:
        runs[name] = {
            "seconds_per_batch": seconds,
            "images_per_second": batch * spec.images_per_item / seconds,
            **extra,
        }
        log(f"  {name}: {runs[name]['images_per_second']:.1f} img/s")

    extra_warmup = 2 if s.compile else 0
    # Training, model only: plain and optimised steps interleaved.
    x = spec.inputs(spec.train_batch, device)
    plain = copy.deepcopy(base)
    fast = copy.deepcopy(base).to(memory_format=torch.channels_last)
    runner = torch.compile(fast) if s.compile else fast
    seconds = _time(
        {
            "train_plain_fp32": _train_step(plain, x, dtype=None, fused=False, spec=spec),
            "train_optimised": _train_step(
                runner, _channels_last_input(x), dtype=dtype, fused=fused, spec=spec
            ),
        },
        device=device,
        warmup=s.warmup + extra_warmup,
        iterations=s.iterations,
    )
    for name, value in seconds.items():
        record(name, value, spec.train_batch)
    del plain, fast, runner, x
    out["train_peak_memory_mb"] = _peak_memory_mb(device)

    # Inference: plain, optimised and the library's path, interleaved.
    x = spec.inputs(spec.infer_batch, device)
    plain = copy.deepcopy(base)
    fast = copy.deepcopy(base).to(memory_format=torch.channels_last)
    runner = torch.compile(fast) if s.compile else fast
    steps = {
        "infer_plain_fp32": _infer_step(plain, x, dtype=None, fast=False),
        "infer_optimised": _infer_step(runner, _channels_last_input(x), dtype=dtype, fast=True),
    }
    paths = {
        "segmentation": "MaskPredictor.predict_slices: uint8 slices -> native probabilities",
        "classification": "stage 2 prediction of one series: chunks, 1.2 zoom TTA, aggregation",
    }
    if s.library:
        make = (
            _library_segmentation_inference
            if spec.name == "segmentation"
            else _library_classification_inference
        )
        steps["infer_library"] = make(spec, base, s, device, dtype)
    seconds = _time(steps, device=device, warmup=s.warmup + extra_warmup, iterations=s.iterations)
    for name, value in seconds.items():
        extra = {"path": paths[spec.name]} if name == "infer_library" else {}
        record(name, value, spec.infer_batch, **extra)
    out["infer_peak_memory_mb"] = _peak_memory_mb(device)
    out["agreement"] = _agreement(spec, plain, runner, x[: min(4, spec.infer_batch)], dtype)
    del plain, fast, runner, x, steps

    if s.library:
        folder = work / spec.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if spec.name == "segmentation":
            runs["train_library"] = _library_segmentation_training(spec, s, device, dtype, folder)
        else:
            runs["train_library"] = _library_classification_training(spec, s, device, dtype, folder)
        log(
            f"  train library: {runs['train_library']['images_per_second']:.1f} img/s "
            f"({runs['train_library']['source']})"
        )
        # The model-only step again, right after: end to end is compared with the mean
        # of the two, which evens out a machine whose load changed meanwhile.
        x = spec.inputs(spec.train_batch, device)
        fast = copy.deepcopy(base).to(memory_format=torch.channels_last)
        runner = torch.compile(fast) if s.compile else fast
        again = _time(
            {
                "step": _train_step(
                    runner, _channels_last_input(x), dtype=dtype, fused=fused, spec=spec
                )
            },
            device=device,
            warmup=s.warmup + extra_warmup,
            iterations=s.iterations,
        )["step"]
        runs["train_optimised"]["images_per_second_after_library"] = (
            spec.train_batch * spec.images_per_item / again
        )
        del fast, runner, x
    out["runs"] = runs
    plain_train = runs["train_plain_fp32"]["images_per_second"]
    plain_infer = runs["infer_plain_fp32"]["images_per_second"]
    out["speedups"] = {
        name: run["images_per_second"] / (plain_train if name.startswith("train") else plain_infer)
        for name, run in runs.items()
    }
    if "train_library" in runs:
        optimised = runs["train_optimised"]
        model_only = statistics.mean(
            [optimised["images_per_second"], optimised["images_per_second_after_library"]]
        )
        out["end_to_end_vs_model_only"] = runs["train_library"]["images_per_second"] / model_only
    return out


def _flop_floor(result: dict[str, Any], device_name: str, peak: tuple[float, float] | None) -> None:
    """Achieved TFLOP/s of every run, and the time floor at the device's peak."""
    flops = result.get("gflops_per_image", {})
    if "forward" not in flops:
        return
    for name, run in result["runs"].items():
        per_image = flops["train_step"] if name.startswith("train") else flops["forward"]
        run["achieved_tflops"] = per_image * run["images_per_second"] / 1e3
        if peak is not None:
            fp32, bf16 = peak
            top = fp32 if name.endswith("plain_fp32") else bf16
            run["peak_tflops_assumed"] = top
            run["fraction_of_peak"] = run["achieved_tflops"] / top
            run["floor_images_per_second"] = top * 1e3 / per_image
    if peak is None:
        result["flop_floor"] = f"no known peak for {device_name!r}; pass --peak-tflops FP32 BF16"


# -- output --------------------------------------------------------------------------------


def _markdown(record: dict[str, Any]) -> str:
    lines = [
        f"Device: {record['device_name']} ({record['device']}); image size "
        f"{record['settings']['image_size']} px; torch {record['torch']}; "
        f"{record['settings']['iterations']} timed iterations (median).",
        "",
        "| model | path | batch | precision | img/s | vs plain fp32 | TFLOP/s |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    labels = {
        "train_plain_fp32": ("train", "plain fp32, model only"),
        "train_optimised": ("train", "optimised, model only"),
        "train_library": ("train", "library end to end"),
        "infer_plain_fp32": ("infer", "plain fp32, model only"),
        "infer_optimised": ("infer", "optimised, model only"),
        "infer_library": ("infer", "library path"),
    }
    for name, model in record["models"].items():
        for key, (kind, label) in labels.items():
            run = model["runs"].get(key)
            if run is None:
                continue
            batch = model["train_batch"] if kind == "train" else model["infer_batch"]
            precision = "fp32" if key.endswith("plain_fp32") else model["fast_amp"] + " + CL"
            if model["compile"] and not key.endswith("plain_fp32"):
                precision += " + compile"
            tflops = run.get("achieved_tflops")
            achieved = "-" if tflops is None else f"{tflops:.3f}"
            if "fraction_of_peak" in run:
                achieved += f" ({100 * run['fraction_of_peak']:.0f} % of peak)"
            lines.append(
                f"| {name} | {kind}: {label} | {batch} | {precision} | "
                f"{run['images_per_second']:.1f} | {model['speedups'][key]:.2f}x | {achieved} |"
            )
    lines += ["", "| model | check | value |", "|---|---|---|"]
    for name, model in record["models"].items():
        agreement = model["agreement"]
        lines.append(
            f"| {name} | optimised vs fp32 forward | max abs logit diff "
            f"{agreement['max_abs_logit_diff']:.2e} (logits up to "
            f"{agreement['logit_scale']:.2g}), max abs probability diff "
            f"{agreement['max_abs_probability_diff']:.2e}, same sign "
            f"{agreement['same_decision_fraction']:.4f} |"
        )
        flops = model.get("gflops_per_image", {})
        if "forward" in flops:
            lines.append(
                f"| {name} | GFLOP per image | forward {flops['forward']:.3f}, training step "
                f"{flops['train_step']:.3f} |"
            )
        if "end_to_end_vs_model_only" in model:
            lines.append(
                f"| {name} | end-to-end / model-only training | "
                f"{model['end_to_end_vs_model_only']:.2f} "
                f"({model['runs']['train_library']['source']}) |"
            )
    lines += ["", "| goal | segmentation | classification | met |", "|---|---:|---:|---|"]
    for goal in record["goals"]:
        values = [f"{goal['values'].get(m, float('nan')):.2f}" for m in record["models"]]
        lines.append(f"| {goal['goal']} | {' | '.join(values)} | {goal['status']} |")
    return "\n".join(lines) + "\n"


def _goals(models: dict[str, Any], on_gpu: bool) -> list[dict[str, Any]]:
    goals = []
    for text, key, target in (
        ("library training >= 2x plain fp32", "train_library", 2.0),
        ("library inference >= 2.5x plain fp32", "infer_library", 2.5),
        ("end-to-end training >= 0.9x model-only", "end_to_end", 0.9),
    ):
        values = {}
        for name, model in models.items():
            if key == "end_to_end":
                if "end_to_end_vs_model_only" in model:
                    values[name] = model["end_to_end_vs_model_only"]
            elif key in model["speedups"]:
                values[name] = model["speedups"][key]
        if not values:
            continue
        met = all(v >= target for v in values.values())
        status = ("met" if met else "MISSED") + ("" if on_gpu else " (CPU; the goal is for a GPU)")
        goals.append({"goal": text, "target": target, "values": values, "status": status})
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--image-size", type=int, help="square input side (224 CUDA, 64 CPU)")
    parser.add_argument("--seg-architecture", help="smp architecture (UnetPlusPlus)")
    parser.add_argument("--encoder", help="stage 1 encoder (densenet121)")
    parser.add_argument("--backbone", help="stage 2 timm backbone (eca_nfnet_l0)")
    parser.add_argument("--hidden-size", type=int, default=64, help="stage 2 LSTM hidden size")
    parser.add_argument("--frames", type=int, help="frames per chunk (35)")
    parser.add_argument("--seg-train-batch", type=int, help="slices (32 CUDA, 4 CPU)")
    parser.add_argument("--seg-infer-batch", type=int, help="slices (128 CUDA, 8 CPU)")
    parser.add_argument("--cls-train-batch", type=int, help="chunks (4 CUDA, 1 CPU)")
    parser.add_argument("--cls-infer-batch", type=int, help="chunks (16 CUDA, 2 CPU)")
    parser.add_argument("--iterations", type=int, help="timed iterations (20 CUDA, 3 CPU)")
    parser.add_argument("--warmup", type=int, help="untimed iterations first (3 CUDA, 1 CPU)")
    parser.add_argument(
        "--amp",
        choices=("auto", "off", "bf16", "fp16"),
        default="auto",
        help="optimised path's precision (auto: bf16 where the device runs it natively)",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the fast paths")
    parser.add_argument("--no-library", action="store_true", help="model-only runs only")
    parser.add_argument("--library-steps", type=int, help="training batches per library epoch")
    parser.add_argument("--workers", type=int, help="library data loader workers")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default 1 on CPU: steadier on a shared machine)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny models (a smoke test)")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        nargs=2,
        metavar=("FP32", "BF16"),
        help="the device's dense peak, for the FLOP floor",
    )
    parser.add_argument("--models", nargs="+", default=["segmentation", "classification"])
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/throughput.json"))
    args = parser.parse_args()

    import torch

    log = Log()
    s = _settings(args)
    torch.set_num_threads(s.threads)
    device = torch.device(s.device)
    name = device_name(device)
    peak = tuple(args.peak_tflops) if args.peak_tflops else None
    if peak is None and device.type == "cuda":
        peak = next((v for k, v in KNOWN_PEAKS.items() if k in name), None)
    log(
        f"device {s.device} ({name}), {torch.get_num_threads()} "
        f"threads, {s.image_size} px" + (", tiny models" if s.tiny else "")
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="rg-throughput-"))
    models: dict[str, Any] = {}
    try:
        for spec in _specs(s):
            if spec.name in args.models:
                models[spec.name] = _bench_model(spec, s, work, log)
                _flop_floor(models[spec.name], name, peak)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    record = {
        "command": " ".join(["python benchmarks/throughput.py", *sys.argv[1:]]),
        "device": s.device,
        "device_name": name,
        "settings": dataclasses.asdict(s),
        "models": models,
        "goals": _goals(models, device.type == "cuda"),
        "reference_h200": REFERENCE_H200,
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "wall_seconds": round(log.elapsed(), 1),
        **machine(),
    }
    write_results(record, _markdown(record), args.json)


if __name__ == "__main__":
    main()
