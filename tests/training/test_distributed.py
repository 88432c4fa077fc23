"""Both training commands under ``torchrun --nproc_per_node 2`` on the CPU (Gloo), and the
helpers of ``radiogenomics.training._distributed``.

One launch of two processes runs, through :func:`radiogenomics.cli.main`: a stage 1 run
of 1 epoch resumed to 2, the same run uninterrupted, and a stage 2 run of 2 epochs.
The tests then check that only rank 0 wrote (and printed), that the sharded
validation scores what one process scores with rank 0's weights, that resuming under
two processes is exact, and that two processes of batch 4 train as one process of
batch 8 (the same global batch).

Why the one-process comparison has tolerances: the two sides see the same items in the
same global batches (:func:`~radiogenomics.training._distributed.train_sampler`), and
DistributedDataParallel averages the two processes' gradients. The models here have no
batch normalisation (a ``test_nfnet`` backbone; FPN, whose decoder uses group
normalisation), so the only differences are

* stage 2 (mean BCE over chunks): none in exact arithmetic (the mean of two half-batch
  means is the batch mean, and the 24 training chunks need no padding), only the order
  of float32 sums. The training losses agree to 1e-7; AdamW divides each update by the
  root of the squared gradient, so rounding in near-zero gradients moves those weights
  by up to the learning rate, and after 2 epochs the validation losses differ by about
  1.3e-4: the bounds are 1e-4 (training loss) and 1e-3 (validation loss);
* stage 1 (soft Dice pooled over a batch): the Dice loss of 8 slices is not the mean of
  the Dice losses of two halves of 4, so the gradients themselves differ. After one
  epoch the validation losses differ by about 1e-3 and the pooled Dice by about 4e-4;
  the bounds are 0.01 for both.

Every other difference (a process whose gradients are not averaged in, batch
statistics of one process) fails the exact checks of the sharded validation first.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file

from radiogenomics.data import (
    ChunkDataset,
    FrameStore,
    PreparedSlices,
    SegmentationDataset,
    SegmentationPrepConfig,
    prepare_segmentation,
)
from radiogenomics.errors import ConfigurationError
from radiogenomics.io import find_brats_cases
from radiogenomics.metrics import SegmentationMetrics
from radiogenomics.models import SegmentationModelConfig, load_segmentation_model
from radiogenomics.testing import write_synthetic_frame_store
from radiogenomics.training import (
    ClassificationTrainConfig,
    SegmentationTrainConfig,
    load_classification_model,
    train_classification,
    train_segmentation,
)
from radiogenomics.training._distributed import (
    DistributedContext,
    ShardSampler,
    all_gather_objects,
    all_reduce_sum,
    all_reduce_sums,
    barrier,
    broadcast_object,
    context_from_env,
    is_main_process,
    process_count_change,
    process_device,
    train_sampler,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SCRIPT = """
import sys, json
from radiogenomics.cli import main
sys.exit(max(main(argv) for argv in json.loads(sys.argv[1])))
"""

SEG_MODEL = SegmentationModelConfig(architecture="FPN", encoder="tu-test_nfnet", image_size=32)
SEG = SegmentationTrainConfig(
    epochs=2,
    batch_size=8,
    lr=2e-3,
    warmup_epochs=1,
    image_size=32,
    seed=5,
    amp="off",
    device="cpu",
)
CLS = ClassificationTrainConfig(
    backbone="test_nfnet",
    hidden_size=8,
    sequence_length=6,
    stride=2,
    image_size=32,
    batch_size=8,
    lr=3e-3,
    warmup_epochs=1,
    epochs=2,
    val_fraction=0.25,
    seed=3,
    amp="off",
    device="cpu",
)


def _seg_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train-segmentation",
        "--data", str(data),
        "--out", str(out),
        "--architecture", SEG_MODEL.architecture,
        "--encoder", SEG_MODEL.encoder,
        "--image-size", str(SEG.image_size),
        "--batch-size", str(SEG.batch_size // 2),
        "--lr", str(SEG.lr),
        "--warmup-epochs", str(SEG.warmup_epochs),
        "--seed", str(SEG.seed),
        "--amp", "off",
        "--device", "cpu",
        "--no-progress",
        *extra,
    ]  # fmt: skip


def _cls_args(data: Path, out: Path) -> list[str]:
    return [
        "train-classification",
        "--data", str(data),
        "--mri-type", CLS.mri_type,
        "--out", str(out),
        "--backbone", CLS.backbone,
        "--hidden-size", str(CLS.hidden_size),
        "--sequence-length", str(CLS.sequence_length),
        "--stride", str(CLS.stride),
        "--image-size", str(CLS.image_size),
        "--batch-size", str(CLS.batch_size // 2),
        "--lr", str(CLS.lr),
        "--warmup-epochs", str(CLS.warmup_epochs),
        "--epochs", str(CLS.epochs),
        "--val-fraction", str(CLS.val_fraction),
        "--seed", str(CLS.seed),
        "--amp", "off",
        "--device", "cpu",
        "--no-progress",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def data(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ddp-data")
    config = SegmentationPrepConfig(size=32, modalities=("flair",), planes=("axial",))
    assert prepare_segmentation(find_brats_cases(synthetic_cohort), root / "seg", config=config).ok
    store = write_synthetic_frame_store(
        root / "cls", n_patients=16, size=32, frames=(4, 10), seed=1
    )
    return {"seg": root / "seg", "cls": store}


@pytest.fixture(scope="module")
def launched(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One torchrun launch of 2 processes running 4 training commands."""
    root = tmp_path_factory.mktemp("ddp-runs")
    script = root / "train.py"
    script.write_text(SCRIPT)
    runs = {"seg": root / "seg", "seg_once": root / "seg-once", "cls": root / "cls"}
    commands = [
        _seg_args(data["seg"], runs["seg"], "--epochs", "1"),
        _seg_args(data["seg"], runs["seg"], "--epochs", "2", "--resume"),
        _seg_args(data["seg"], runs["seg_once"], "--epochs", "2"),
        _cls_args(data["cls"], runs["cls"]),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(script),
            json.dumps(commands),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {"stdout": result.stdout, **runs}


def _history(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_only_rank_0_writes_and_prints(launched: dict[str, Any]) -> None:
    printed = launched["stdout"].splitlines()
    assert sum("finished after 1 epochs" in x for x in printed) == 1
    assert sum(x.startswith("finished after 2 epochs") for x in printed) == 2
    assert sum(x.startswith("FLAIR: finished after 2 epochs") for x in printed) == 1
    for key in ("seg", "seg_once", "cls"):
        run: Path = launched[key]
        history = _history(run)
        assert [h["epoch"] for h in history] == [1, 2]  # one writer: no doubled lines
        for line in history:
            assert line["train_images_per_second"] > 0
            assert line["data_seconds"] >= 0
            assert line["model_seconds"] > 0
        assert json.loads((run / "config.json").read_text())["processes"] == 2
        assert torch.load(run / "last.state.pt", weights_only=True)["world_size"] == 2
        assert not list(run.glob(".*.tmp"))
    assert load_segmentation_model(launched["seg"])[1] == SEG_MODEL
    assert load_classification_model(launched["cls"])[1].epoch >= 1


@pytest.mark.slow
def test_resume_under_two_processes_is_exact(launched: dict[str, Any]) -> None:
    resumed = load_file(str(launched["seg"] / "last.safetensors"))
    once = load_file(str(launched["seg_once"] / "last.safetensors"))
    for key, value in once.items():
        assert torch.equal(resumed[key], value), key
    assert [h["val_loss"] for h in _history(launched["seg"])] == [
        h["val_loss"] for h in _history(launched["seg_once"])
    ]


@pytest.mark.slow
def test_sharded_validation_scores_rank_0_weights(
    launched: dict[str, Any], data: dict[str, Path]
) -> None:
    # Stage 1: Dice and IoU are sums of pixel counts: exact whatever the sharding.
    run: Path = launched["seg"]
    model, _ = load_segmentation_model(run, which="last")
    val_patients = set(json.loads((run / "config.json").read_text())["val_patients"])
    store = PreparedSlices(data["seg"])
    rows = [i for i, row in enumerate(store.rows) if row["patient_id"] in val_patients]
    dataset = SegmentationDataset(store, rows, image_size=SEG.image_size)
    metrics = SegmentationMetrics(channels=("WT", "ET"))
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=4):
            metrics.update(torch.sigmoid(model(batch["image"])), batch["mask"])
    logged = _history(run)[-1]
    for key, value in metrics.compute().items():
        assert logged[key] == pytest.approx(value, abs=1e-12), key
    # Stage 2: the gathered chunk probabilities give the loss of every chunk.
    cls_run: Path = launched["cls"]
    classifier, info = load_classification_model(cls_run, which="last")
    frames = FrameStore(data["cls"]).frames_by_series(mri_type="FLAIR")
    val = ChunkDataset(
        {k: v for k, v in frames.items() if k[0] in set(info.val_patients)},
        FrameStore(data["cls"]).labels,
        length=CLS.sequence_length,
        stride=CLS.stride,
        image_size=CLS.image_size,
    )
    losses = []
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(val, batch_size=4):
            logits = classifier(batch["frames"], batch["valid"])
            losses += torch.nn.functional.binary_cross_entropy_with_logits(
                logits, batch["label"], reduction="none"
            ).tolist()
    assert _history(cls_run)[-1]["val_loss"] == pytest.approx(sum(losses) / len(losses), abs=1e-6)


@pytest.mark.slow
def test_two_processes_train_as_one_with_the_same_global_batch(
    launched: dict[str, Any], data: dict[str, Path], tmp_path: Path
) -> None:
    two = _history(launched["cls"])
    train_chunks = json.loads((launched["cls"] / "config.json").read_text())["train_chunks"]
    assert train_chunks % 2 == 0  # no padding repeats: the global batches are identical
    one = train_classification(data["cls"], tmp_path / "cls", config=CLS, progress=False)
    for got, want in zip(two, one.history, strict=True):
        assert got["train_loss"] == pytest.approx(want["train_loss"], abs=1e-4)
        assert got["val_loss"] == pytest.approx(want["val_loss"], abs=1e-3)
    seg_two = _history(launched["seg_once"])[0]
    seg_one = train_segmentation(
        data["seg"],
        tmp_path / "seg",
        config=dataclasses.replace(SEG, epochs=1),
        model_config=SEG_MODEL,
        progress=False,
    ).history[0]
    assert seg_two["val_loss"] == pytest.approx(seg_one["val_loss"], abs=0.01)
    assert seg_two["dice_pooled"] == pytest.approx(seg_one["dice_pooled"], abs=0.01)


# -- the helpers, in one process -----------------------------------------------------------


def test_context_from_env() -> None:
    assert context_from_env({}) == DistributedContext()
    context = context_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (context.rank, context.world_size, context.local_rank) == (3, 4, 1)
    assert context.active
    assert not context.is_main
    assert context_from_env({"WORLD_SIZE": "2", "RANK": "1"}).local_rank == 1
    with pytest.raises(ConfigurationError, match="RANK is not"):
        context_from_env({"WORLD_SIZE": "2"})
    with pytest.raises(ConfigurationError, match="not a whole number"):
        context_from_env({"WORLD_SIZE": "two", "RANK": "0"})
    with pytest.raises(ConfigurationError, match="0 <= rank < world_size"):
        context_from_env({"WORLD_SIZE": "2", "RANK": "2"})


def test_is_main_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert is_main_process()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()


def test_single_process_collectives_are_identities() -> None:
    single = DistributedContext()
    assert torch.equal(
        all_reduce_sum(torch.tensor([1.5, 2.0]), single),
        torch.tensor([1.5, 2.0], dtype=torch.float64),
    )
    sums = all_reduce_sums({"a": torch.ones(2, 3), "b": torch.tensor(4)}, single)
    assert sums["a"].shape == (2, 3)
    assert sums["b"].shape == ()
    assert sums["a"].dtype == sums["b"].dtype == torch.float64
    assert float(sums["b"]) == 4.0
    assert all_reduce_sums({}, single) == {}
    assert all_gather_objects({"a": 1}, single) == [{"a": 1}]
    assert broadcast_object((0.5, {"x": 1.0}), single) == (0.5, {"x": 1.0})
    barrier(single)


def test_process_device_and_count_change() -> None:
    two = DistributedContext(rank=1, world_size=2, local_rank=1)
    assert process_device("cpu", two) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert process_device("auto", two) == torch.device("cpu")
    assert process_count_change({}, DistributedContext()) == []
    assert process_count_change({"world_size": 2}, two) == []
    (message,) = process_count_change({"world_size": 2}, DistributedContext())
    assert "processes: 2 -> 1" in message
    assert "--nproc_per_node 2" in message


@given(size=st.integers(0, 40), world=st.integers(1, 5))
def test_validation_shards_partition_the_items(size: int, world: int) -> None:
    shards = [
        list(ShardSampler(size, DistributedContext(rank=r, world_size=world))) for r in range(world)
    ]
    assert sorted(i for shard in shards for i in shard) == list(range(size))
    assert [
        len(ShardSampler(size, DistributedContext(rank=r, world_size=world))) for r in range(world)
    ] == [len(s) for s in shards]


@given(
    batches=st.integers(1, 4),
    batch=st.integers(1, 4),
    world=st.sampled_from([1, 2, 4]),
    seed=st.integers(0, 100),
    epoch=st.integers(0, 3),
)
def test_global_batches_do_not_depend_on_the_number_of_processes(
    batches: int, batch: int, world: int, seed: int, epoch: int
) -> None:
    size = batches * batch * world  # no padding
    items = list(range(size))
    alone = list(train_sampler(items, DistributedContext(), seed=seed, epoch=epoch))
    shards = [
        list(
            train_sampler(
                items, DistributedContext(rank=r, world_size=world), seed=seed, epoch=epoch
            )
        )
        for r in range(world)
    ]
    for k in range(batches):
        together = sorted(i for shard in shards for i in shard[k * batch : (k + 1) * batch])
        assert together == sorted(alone[k * batch * world : (k + 1) * batch * world])
