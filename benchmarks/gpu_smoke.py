"""Every GPU path of the library on tiny models, each checked: the first steps of ``gpu_check.py``.

``checks`` runs on one device, each as a named check recorded whether it passes or not:

* both training loops (``train_segmentation`` with Unet/``tu-test_resnet``,
  ``train_classification`` with ``test_resnet`` + BiLSTM; 2 epochs, the encoder or
  backbone frozen in the first) in plain fp32 (``amp="off"``, no channels-last,
  augmentation in the loader) and on the fast path (bf16 autocast, channels-last,
  ``augment_on="device"``): losses finite, and the optimizer's kernel, read from the
  run's ``last.state.pt``, fused AdamW on CUDA and not on the CPU;
* inference: :class:`~radiogenomics.inference.MaskPredictor` on the prepared slices and
  :func:`~radiogenomics.inference.run_prediction` on a synthetic DICOM patient, in fp32,
  with bf16 + channels-last and with the library's defaults: outputs finite and within
  ``TOLERANCE`` of fp32;
* the same training and inference with ``torch.compile``, last, as compiling is the
  slowest part (on CUDA the default TorchInductor; ``--compile-backend eager`` runs
  TorchDynamo's graph capture without code generation, the CPU default, which needs no
  C++ compiler and takes seconds).

``torchrun`` checks the multi-process paths:

* ``radiogenomics.cli train-segmentation`` under ``torchrun --nproc_per_node 1``;
* both training loops in 2 processes under DistributedDataParallel. On CUDA both share
  the one GPU, which NCCL refuses ("Duplicate GPU detected"), so the processes start a
  Gloo group themselves (the library then uses it) and train on ``cuda:0``: the DDP
  wrapper, the sharded validation and its reductions run on CUDA tensors; the NCCL
  transport between GPUs is not checked (it needs two GPUs);
* on CUDA, an NCCL all-reduce under ``torchrun --nproc_per_node 1`` (the library starts
  no group for one process, so this checks NCCL itself).

Results go to ``--json`` after every check, so a run stopped by a time limit keeps what
it finished. Exit status 0 when every check passed (or was skipped as not applicable).

    python benchmarks/gpu_smoke.py checks --device cuda --json smoke.json
    python benchmarks/gpu_smoke.py torchrun --device cuda --json torchrun.json
    python benchmarks/gpu_smoke.py checks --device cpu     # seconds, eager compile backend
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from _common import Log, device_name, machine, permissive_prep, run_group

TOLERANCE = 0.02
"""Largest difference of a probability between bf16 and fp32 that passes: the bound of
the library's own bf16 tests (a bf16 mask differs from fp32 only where the probability
is within about 0.01 of the threshold, see :class:`~radiogenomics.inference.MaskPredictor`)."""

TRAIN_VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"amp": "off", "channels_last": False, "augment_on": "loader", "compile": False},
    "fast": {"amp": "bf16", "channels_last": True, "augment_on": "device", "compile": False},
    "compile": {"amp": "bf16", "channels_last": True, "augment_on": "device", "compile": True},
}
INFER_VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {"amp": "off", "channels_last": False},
    "fast": {"amp": "bf16", "channels_last": True},
    "default": {},
    "compile": {"amp": "bf16", "channels_last": True, "compile": True},
}
SEG_MODEL: dict[str, Any] = {"architecture": "Unet", "encoder": "tu-test_resnet"}
CLS_MODEL: dict[str, Any] = {
    "backbone": "test_resnet",
    "hidden_size": 8,
    "sequence_length": 6,
    "stride": 2,
}


class CheckFailed(AssertionError):
    """A check's condition does not hold."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition``."""
    if not condition:
        raise CheckFailed(message)


def finite(value: float) -> bool:
    """Whether ``value`` is a finite number."""
    return isinstance(value, (int, float)) and math.isfinite(value)


class Checks:
    """Runs named checks in turn and records each, writing the JSON after every one.

    A check returns its figures (a dict), raises :class:`CheckFailed` (``failed``) or
    anything else (``error``); one whose prerequisite did not pass is ``skipped``.
    """

    def __init__(self, path: Path, header: dict[str, Any], log: Log) -> None:
        self.path = path
        self.header = header
        self.log = log
        self.records: dict[str, dict[str, Any]] = {}

    def run(
        self, name: str, check: Callable[[], dict[str, Any]], *, needs: Sequence[str] = ()
    ) -> dict[str, Any]:
        missing = [n for n in needs if self.records.get(n, {}).get("status") != "ok"]
        record: dict[str, Any]
        if missing:
            record = {"status": "skipped", "reason": f"needs {', '.join(missing)}"}
        else:
            began = time.perf_counter()
            try:
                record = {"status": "ok", **check()}
            except CheckFailed as error:
                record = {"status": "failed", "error": str(error)}
            except Exception as error:
                record = {
                    "status": "error",
                    "error": f"{type(error).__name__}: {error}",
                    "traceback": traceback.format_exc()[-3000:],
                }
            record["seconds"] = round(time.perf_counter() - began, 2)
        self.records[name] = record
        detail = record.get("error", record.get("reason"))
        self.log(f"{name}: {record['status']}" + (f" ({detail})" if detail else ""))
        self.write()
        return record

    def skip(self, name: str, reason: str) -> None:
        """Record ``name`` as not applicable here."""
        self.records[name] = {"status": "skipped", "reason": reason}
        self.log(f"{name}: skipped ({reason})")
        self.write()

    @property
    def ok(self) -> bool:
        return all(r["status"] in ("ok", "skipped") for r in self.records.values())

    def write(self) -> None:
        statuses = [r["status"] for r in self.records.values()]
        record = {
            **self.header,
            "checks": self.records,
            "counts": {s: statuses.count(s) for s in sorted(set(statuses))},
            "wall_seconds": round(self.log.elapsed(), 1),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        temporary.replace(self.path)


@dataclasses.dataclass
class Context:
    """What the checks share: the device, the sizes and the folders they write."""

    device: Any  # torch.device
    image_size: int
    work: Path
    seg_runs: dict[str, Path] = dataclasses.field(default_factory=dict)
    cls_runs: dict[str, Path] = dataclasses.field(default_factory=dict)
    rows: int = 0

    @property
    def cuda(self) -> bool:
        return bool(self.device.type == "cuda")


def use_compile_backend(backend: str) -> None:
    """Make every ``torch.compile`` of this process use ``backend`` (the library's too)."""
    import torch

    if backend != "inductor":
        torch.compile = functools.partial(torch.compile, backend=backend)


def nccl_version() -> str:
    """The NCCL version torch was built with (a tuple in recent torch, an int before)."""
    import torch

    version = torch.cuda.nccl.version()  # type: ignore[no-untyped-call]
    return ".".join(map(str, version)) if isinstance(version, tuple) else str(version)


# -- the checks ------------------------------------------------------------------------------


def _environment(ctx: Context) -> dict[str, Any]:
    import torch

    from radiogenomics.inference import resolve_inference_amp
    from radiogenomics.training import resolve_amp

    out: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "device": str(ctx.device),
        "device_name": device_name(ctx.device),
    }
    auto = resolve_amp("auto", ctx.device), resolve_inference_amp("auto", ctx.device)
    if ctx.cuda:
        out["capability"] = list(torch.cuda.get_device_capability(ctx.device))
        out["cudnn"] = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
        out["nccl"] = nccl_version()
        out["bf16_supported"] = torch.cuda.is_bf16_supported()
        expect(auto == (torch.bfloat16, torch.bfloat16), f"amp='auto' on CUDA gave {auto}")
    else:
        expect(auto == (None, None), f"amp='auto' on the CPU gave {auto}, expected full precision")
    return out


def _data(ctx: Context) -> dict[str, Any]:
    from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
    from radiogenomics.testing import write_brats_cohort, write_task2_cohort

    cases = write_brats_cohort(ctx.work / "task1", n_cases=2, seed=0, shape=(48, 48, 32))
    config = SegmentationPrepConfig(size=ctx.image_size, modalities=("flair",), planes=("axial",))
    report = prepare_segmentation(cases, ctx.work / "slices", config=config)
    expect(report.ok, f"prepare_segmentation failed: {report.summary()}")
    ctx.rows = sum(1 for _ in (ctx.work / "slices" / "manifest.csv").open()) - 1
    expect(ctx.rows >= 8, f"only {ctx.rows} prepared slices; expected at least 8")
    for split, count, seed in (("train", 4, 1), ("test", 1, 2)):
        write_task2_cohort(
            ctx.work / "task2",
            n_patients=count,
            seed=seed,
            size=48,
            n_slices=16,
            mri_types=("FLAIR",),
            split=split,
        )
    return {"slices": ctx.rows, "task2_train_patients": 4, "task2_test_patients": 1}


def _read_run(run: Path, device: Any, expected: dict[str, Any] | None = None) -> dict[str, Any]:
    """Figures of a finished run: finite losses, throughput, which AdamW kernel ran.

    ``expected`` settings are compared with the run's ``config.json``.
    """
    import torch

    history = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    expect(bool(history), f"{run} has no epoch in metrics.jsonl")
    last = history[-1]
    for key in ("train_loss", "val_loss"):
        values = [h[key] for h in history]
        expect(all(finite(v) for v in values), f"{key} not finite: {values}")
    state = torch.load(run / "last.state.pt", map_location="cpu", weights_only=True)
    fused = bool(state["optimizer"]["param_groups"][0].get("fused"))
    if device.type == "cuda":
        expect(fused, "AdamW was not fused on CUDA (last.state.pt param_groups fused=False)")
    else:
        expect(not fused, "AdamW was fused on the CPU")
    settings = json.loads((run / "config.json").read_text())["train_config"]
    for key, value in (expected or {}).items():
        expect(settings[key] == value, f"config.json has {key}={settings[key]!r}, not {value!r}")
    return {
        "epochs": len(history),
        "train_loss": [h["train_loss"] for h in history],
        "val_loss": [h["val_loss"] for h in history],
        "train_images_per_second": last.get("train_images_per_second"),
        "data_seconds": last.get("data_seconds"),
        "model_seconds": last.get("model_seconds"),
        "fused_adamw": fused,
        "config": {k: settings.get(k) for k in ("amp", "channels_last", "compile", "augment_on")},
    }


def _peak_memory_mb(device: Any) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    value = torch.cuda.max_memory_allocated(device) / 2**20
    torch.cuda.reset_peak_memory_stats(device)
    return round(value, 1)


def _train_segmentation(ctx: Context, variant: str) -> dict[str, Any]:
    from radiogenomics.models import SegmentationModelConfig
    from radiogenomics.training import SegmentationTrainConfig, train_segmentation

    compiled = TRAIN_VARIANTS[variant]["compile"]
    config = SegmentationTrainConfig(
        epochs=1 if compiled else 2,
        batch_size=4,
        lr=1e-3,
        warmup_epochs=0 if compiled else 1,
        patience=None,
        image_size=ctx.image_size,
        device=str(ctx.device),
        **TRAIN_VARIANTS[variant],
    )
    n_val = max(4, ctx.rows // 4)
    out = ctx.work / "runs" / f"seg-{variant}"
    train_segmentation(
        ctx.work / "slices",
        out,
        config=config,
        model_config=SegmentationModelConfig(**SEG_MODEL, image_size=ctx.image_size),
        split=(range(ctx.rows - n_val), range(ctx.rows - n_val, ctx.rows)),
        progress=False,
    )
    ctx.seg_runs[variant] = out
    return {
        **_read_run(out, ctx.device, TRAIN_VARIANTS[variant]),
        "peak_memory_mb": _peak_memory_mb(ctx.device),
    }


def _frames(ctx: Context) -> dict[str, Any]:
    from radiogenomics.data.prepare_classification import prepare_classification

    report = prepare_classification(
        ctx.work / "task2" / "train",
        ctx.work / "frames",
        labels=ctx.work / "task2" / "train_labels.csv",
        segmentation_run=ctx.seg_runs["plain"],
        config=dataclasses.replace(permissive_prep(), mri_types=("FLAIR",)),
        device=str(ctx.device),
    )
    summary = report.summary()
    expect(report.ok, f"prepare_classification failed: {summary}")
    return {"summary": summary.splitlines()[0]}


def _train_classification(ctx: Context, variant: str) -> dict[str, Any]:
    from radiogenomics.training import ClassificationTrainConfig, train_classification

    compiled = TRAIN_VARIANTS[variant]["compile"]
    config = ClassificationTrainConfig(
        mri_type="FLAIR",
        **CLS_MODEL,
        image_size=ctx.image_size,
        batch_size=2,
        lr=1e-3,
        warmup_epochs=0 if compiled else 1,
        epochs=1 if compiled else 2,
        patience=None,
        val_fraction=0.5,
        device=str(ctx.device),
        **TRAIN_VARIANTS[variant],
    )
    out = ctx.work / "runs" / f"cls-{variant}"
    train_classification(ctx.work / "frames", out, config=config, progress=False)
    ctx.cls_runs[variant] = out
    return {
        **_read_run(out, ctx.device, TRAIN_VARIANTS[variant]),
        "peak_memory_mb": _peak_memory_mb(ctx.device),
    }


def _test_slices(ctx: Context) -> Any:
    """Up to 16 prepared stage 1 slices (uint8, N x S x S)."""
    import numpy as np

    from radiogenomics.data import PreparedSlices

    store = PreparedSlices(ctx.work / "slices")
    return np.stack([store[i].image for i in range(min(len(store), 16))])


def _mask_predictor(ctx: Context, variants: Sequence[str]) -> dict[str, Any]:
    import numpy as np
    import torch

    from radiogenomics.inference import MaskPredictor
    from radiogenomics.models import load_segmentation_model

    slices = _test_slices(ctx)
    out: dict[str, Any] = {"slices": int(slices.shape[0]), "tolerance": TOLERANCE}
    reference = None
    for name in ("plain", *variants):
        model, _ = load_segmentation_model(ctx.seg_runs["plain"], device=ctx.device)
        predictor = MaskPredictor(
            model,
            image_size=ctx.image_size,
            batch_size=8,
            device=ctx.device,
            **INFER_VARIANTS[name],
        )
        probabilities = predictor.predict_slices(slices)
        expect(bool(np.isfinite(probabilities).all()), f"{name}: probabilities not finite")
        if ctx.cuda:
            expect(
                all(p.device.type == "cuda" for p in model.parameters()),
                f"{name}: model not on CUDA",
            )
        if INFER_VARIANTS[name].get("channels_last"):
            weights = [p for p in model.parameters() if p.ndim == 4]
            expect(
                all(p.is_contiguous(memory_format=torch.channels_last) for p in weights),
                f"{name}: weights not channels-last",
            )
        if reference is None:
            reference = probabilities
            out["plain_std"] = float(probabilities.std())
            continue
        difference = float(np.abs(probabilities - reference).max())
        changed = float(np.mean((probabilities > 0.5) != (reference > 0.5)))
        out[name] = {"max_abs_probability_diff": difference, "mask_pixels_changed": changed}
        expect(
            difference <= TOLERANCE, f"{name}: probabilities differ by {difference:.4f} from fp32"
        )
    out["peak_memory_mb"] = _peak_memory_mb(ctx.device)
    return out


def _run_prediction(ctx: Context, variants: Sequence[str]) -> dict[str, Any]:
    import torch

    from radiogenomics.inference import run_prediction

    out: dict[str, Any] = {"tolerance": TOLERANCE}
    reference: float | None = None
    for name in ("plain", *variants):
        began = time.perf_counter()
        result = run_prediction(
            ctx.work / "task2" / "test",
            segmentation_run=ctx.seg_runs["plain"],
            classification_runs=[ctx.cls_runs["plain"]],
            device=str(ctx.device),
            **INFER_VARIANTS[name],
        )
        if ctx.cuda:
            torch.cuda.synchronize(ctx.device)
        seconds = time.perf_counter() - began
        expect(not result.failed, f"{name}: series failed: {result.failed}")
        (probability,) = result.probabilities.values()
        chunks = sum(result.chunks.values())
        expect(finite(probability) and 0.0 <= probability <= 1.0, f"{name}: p={probability}")
        expect(chunks > 0, f"{name}: no chunk was predicted (stage 2 did not run)")
        record: dict[str, Any] = {
            "probability": probability,
            "chunks": chunks,
            "seconds": round(seconds, 3),
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
        }
        if reference is None:
            reference = probability
        else:
            record["abs_diff_vs_fp32"] = abs(probability - reference)
            expect(
                record["abs_diff_vs_fp32"] <= TOLERANCE,
                f"{name}: patient probability {probability:.4f} vs fp32 {reference:.4f}",
            )
        out[name] = record
    return out


def _checks(args: argparse.Namespace) -> int:
    import torch

    from radiogenomics.training import resolve_device

    log = Log()
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads or (torch.get_num_threads() if device.type == "cuda" else 1))
    backend = args.compile_backend or ("inductor" if device.type == "cuda" else "eager")
    use_compile_backend(backend)
    work = Path(tempfile.mkdtemp(prefix="rg-gpu-smoke-", dir=args.work))
    ctx = Context(device=device, image_size=args.image_size or 64, work=work)
    checks = Checks(
        args.json,
        {
            "command": " ".join(["python benchmarks/gpu_smoke.py", *sys.argv[1:]]),
            "device": str(device),
            "image_size": ctx.image_size,
            "compile_backend": backend,
            "tolerance": TOLERANCE,
            **machine(),
        },
        log,
    )
    log(f"device {device} ({device_name(device)}), {ctx.image_size} px, compile backend {backend}")
    try:
        checks.run("environment", lambda: _environment(ctx))
        checks.run("data", lambda: _data(ctx))
        for variant in ("plain", "fast"):
            checks.run(
                f"train_segmentation/{variant}",
                functools.partial(_train_segmentation, ctx, variant),
                needs=("data",),
            )
        checks.run("frames", lambda: _frames(ctx), needs=("train_segmentation/plain",))
        for variant in ("plain", "fast"):
            checks.run(
                f"train_classification/{variant}",
                functools.partial(_train_classification, ctx, variant),
                needs=("frames",),
            )
        trained = ("train_segmentation/plain", "train_classification/plain")
        checks.run(
            "mask_predictor",
            lambda: _mask_predictor(ctx, ("fast", "default")),
            needs=trained[:1],
        )
        checks.run(
            "run_prediction", lambda: _run_prediction(ctx, ("fast", "default")), needs=trained
        )
        # torch.compile last: the slowest, and what most often breaks.
        checks.run(
            "train_segmentation/compile",
            lambda: _train_segmentation(ctx, "compile"),
            needs=("data",),
        )
        checks.run(
            "train_classification/compile",
            lambda: _train_classification(ctx, "compile"),
            needs=("frames",),
        )
        checks.run(
            "mask_predictor/compile", lambda: _mask_predictor(ctx, ("compile",)), needs=trained[:1]
        )
        checks.run(
            "run_prediction/compile", lambda: _run_prediction(ctx, ("compile",)), needs=trained
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if checks.ok else 1


# -- torchrun --------------------------------------------------------------------------------


def _launch(
    nproc: int, command: Sequence[str], *, timeout: float, env: dict[str, str], log: Path
) -> dict[str, Any]:
    """Run ``command`` under ``torchrun --standalone --nproc_per_node nproc``."""
    began = time.perf_counter()
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    with log.open("w", encoding="utf-8") as output:
        returncode = run_group(
            [*launcher, "--nproc_per_node", str(nproc), *command],
            timeout=timeout,
            output=output,
            env=env,
        )
    tail = log.read_text(encoding="utf-8", errors="replace")[-1500:]
    expect(returncode is not None, f"torchrun ran past {timeout:.0f} s: {tail}")
    expect(returncode == 0, f"torchrun exited with {returncode}: {tail}")
    return {"seconds": round(time.perf_counter() - began, 2)}


def _processes(run: Path) -> int:
    return int(json.loads((run / "config.json").read_text()).get("processes", 1))


def _torchrun(args: argparse.Namespace) -> int:
    from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
    from radiogenomics.testing import write_brats_cohort, write_synthetic_frame_store
    from radiogenomics.training import resolve_device

    log = Log()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    size = args.image_size or 64
    work = Path(tempfile.mkdtemp(prefix="rg-gpu-torchrun-", dir=args.work))
    checks = Checks(
        args.json,
        {
            "command": " ".join(["python benchmarks/gpu_smoke.py", *sys.argv[1:]]),
            "device": str(device),
            "image_size": size,
            "not_checked": "NCCL between processes (needs 2 GPUs; NCCL refuses two "
            "processes on one GPU)",
            **machine(),
        },
        log,
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    device_option = "cuda" if cuda else "cpu"
    script = str(Path(__file__).resolve())

    def data() -> dict[str, Any]:
        cases = write_brats_cohort(work / "task1", n_cases=2, seed=0, shape=(48, 48, 32))
        config = SegmentationPrepConfig(size=size, modalities=("flair",), planes=("axial",))
        expect(prepare_segmentation(cases, work / "slices", config=config).ok, "preparation")
        write_synthetic_frame_store(work / "frames", n_patients=8, size=size, frames=(4, 10))
        return {}

    def one_process() -> dict[str, Any]:
        run = work / "cli-seg"
        out = _launch(
            1,
            [
                "-m",
                "radiogenomics.cli",
                "train-segmentation",
                "--data",
                str(work / "slices"),
                "--out",
                str(run),
                *("--architecture", SEG_MODEL["architecture"], "--encoder", SEG_MODEL["encoder"]),
                *("--image-size", str(size), "--batch-size", "4", "--epochs", "1"),
                *("--warmup-epochs", "0", "--device", device_option, "--no-progress"),
            ],
            timeout=args.launch_timeout,
            env=env,
            log=work / "torchrun-1.log",
        )
        expect(_processes(run) == 1, f"config.json records {_processes(run)} processes")
        return {**out, **_read_run(run, device)}

    def two_processes() -> dict[str, Any]:
        out = _launch(
            2,
            [
                script,
                "ddp-worker",
                "--work",
                str(work),
                "--device",
                device_option,
                "--image-size",
                str(size),
            ],
            timeout=args.launch_timeout,
            env=env,
            log=work / "torchrun-2.log",
        )
        for name in ("ddp-seg", "ddp-cls"):
            run = work / name
            expect(_processes(run) == 2, f"{name}: config.json records {_processes(run)} processes")
            out[name] = _read_run(run, device)
        out["backend"] = "gloo (NCCL refuses two processes on one GPU)" if cuda else "gloo"
        return out

    def nccl() -> dict[str, Any]:
        out = _launch(
            1,
            [script, "nccl-worker"],
            timeout=args.launch_timeout,
            env=env,
            log=work / "torchrun-nccl.log",
        )
        return {**out, "nccl": nccl_version()}

    try:
        checks.run("data", data)
        checks.run("torchrun_1_process_cli", one_process, needs=("data",))
        checks.run("torchrun_2_processes_ddp", two_processes, needs=("data",))
        if cuda:
            checks.run("torchrun_nccl_all_reduce", nccl)
        else:
            checks.skip("torchrun_nccl_all_reduce", "needs CUDA")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if checks.ok else 1


def _ddp_worker(args: argparse.Namespace) -> int:
    """One of two processes started by ``torchrun``: both training loops, 1 epoch each."""
    import torch
    import torch.distributed as dist

    from radiogenomics.models import SegmentationModelConfig
    from radiogenomics.training import (
        ClassificationTrainConfig,
        SegmentationTrainConfig,
        train_classification,
        train_segmentation,
    )

    torch.set_num_threads(1)
    if args.device == "cuda" and torch.cuda.device_count() < int(os.environ["WORLD_SIZE"]):
        # Fewer GPUs than processes: NCCL refuses to share a GPU, so start Gloo here (the
        # library keeps a group it finds) and put every process on cuda:0.
        dist.init_process_group("gloo")
        os.environ["LOCAL_RANK"] = "0"
    common: dict[str, Any] = {
        "epochs": 1,
        "warmup_epochs": 0,
        "patience": None,
        "image_size": args.image_size,
        "device": args.device,
        "amp": "bf16",
        "augment_on": "device",
    }
    train_segmentation(
        args.work / "slices",
        args.work / "ddp-seg",
        config=SegmentationTrainConfig(batch_size=4, **common),
        model_config=SegmentationModelConfig(**SEG_MODEL, image_size=args.image_size),
        progress=False,
    )
    train_classification(
        args.work / "frames",
        args.work / "ddp-cls",
        config=ClassificationTrainConfig(**CLS_MODEL, batch_size=2, val_fraction=0.25, **common),
        progress=False,
    )
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


def _nccl_worker() -> int:
    """An NCCL group of this one process, and an all-reduce on the GPU."""
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    dist.init_process_group("nccl")
    value = torch.full((4,), float(dist.get_rank() + 1), device=device)
    dist.all_reduce(value)
    torch.cuda.synchronize(device)
    expected = float(sum(range(1, dist.get_world_size() + 1)))
    dist.destroy_process_group()
    if not torch.all(value == expected):
        print(f"NCCL all-reduce gave {value.tolist()}, expected {expected}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "what", choices=("checks", "torchrun", "ddp-worker", "nccl-worker"), help="what to run"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--image-size", type=int, help="model input side (64)")
    parser.add_argument(
        "--compile-backend",
        choices=("inductor", "eager", "aot_eager"),
        help="torch.compile backend (default: inductor on CUDA, eager on the CPU)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default 1 on the CPU)")
    parser.add_argument(
        "--launch-timeout", type=float, default=300, help="seconds per torchrun launch"
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/gpu_smoke.json"))
    args = parser.parse_args(argv)
    if args.what == "checks":
        return _checks(args)
    if args.what == "torchrun":
        return _torchrun(args)
    if args.what == "ddp-worker":
        return _ddp_worker(args)
    return _nccl_worker()


if __name__ == "__main__":
    sys.exit(main())
