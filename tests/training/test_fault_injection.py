"""Faults during training: a run killed with SIGKILL (mid-epoch, mid-checkpoint) and
resumed with ``--resume``, a malicious training state, checkpoints of another model.

The killed runs are real processes of the command line (``run_killed`` in conftest);
the uninterrupted reference and the resumed runs go through :func:`radiogenomics.cli.main`
here, with one torch thread like the killed process, so weights compare bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from radiogenomics.cli import main
from radiogenomics.data import SegmentationPrepConfig, prepare_segmentation
from radiogenomics.errors import (
    ConfigurationError,
    CorruptFileError,
    InputNotFoundError,
    RadiogenomicsError,
)
from radiogenomics.io import find_brats_cases

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EPOCHS = 3
BATCH = 8


@pytest.fixture(scope="module")
def prepared(synthetic_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared-faults") / "out"
    config = SegmentationPrepConfig(size=32, modalities=("flair",), planes=("axial", "coronal"))
    assert prepare_segmentation(find_brats_cases(synthetic_cohort), out, config=config).ok
    return out


def _args(prepared: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train-segmentation",
        "--data", str(prepared),
        "--out", str(out),
        "--architecture", "Unet",
        "--encoder", "tu-test_resnet",
        "--image-size", "32",
        "--epochs", str(EPOCHS),
        "--batch-size", str(BATCH),
        "--lr", "0.003",
        "--warmup-epochs", "1",
        "--patience", "5",
        "--amp", "off",
        "--workers", "0",
        "--seed", "11",
        "--device", "cpu",
        "--no-progress",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def reference(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(_args(prepared, out)) == 0
    return out


def _resume(prepared: Path, out: Path) -> int:
    """``--resume`` through the command's handler: the library's errors propagate
    (:func:`~radiogenomics.cli.main` prints them and returns 1 or 2)."""
    from radiogenomics.cli import build_parser

    args = build_parser().parse_args(_args(prepared, out, "--resume"))
    status: int = args.handler(args)
    return status


def _steps_per_epoch(run: Path) -> int:
    return math.ceil(json.loads((run / "config.json").read_text())["train_rows"] / BATCH)


def _timing(key: str) -> bool:
    """Whether a metrics.jsonl field measures time (``seconds``, ``images_per_second`` ...)."""
    return "second" in key


def _history(run: Path) -> list[dict[str, Any]]:
    """The lines of metrics.jsonl without their timing fields."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if not _timing(k)} for x in lines]


def _assert_same_run(got: Path, want: Path) -> None:
    expected = load_file(str(want / "last.safetensors"))
    weights = load_file(str(got / "last.safetensors"))
    assert weights.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(weights[key], value), key
    best = load_file(str(got / "best.safetensors"))
    for key, value in load_file(str(want / "best.safetensors")).items():
        assert torch.equal(best[key], value), key
    assert _history(got) == _history(want)


def test_a_run_reproduces_its_metrics_exactly(
    reference: Path, prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "again"
    assert main(_args(prepared, out)) == 0
    history = _history(out)
    assert [h["epoch"] for h in history] == list(range(1, EPOCHS + 1))
    assert history == _history(reference)  # every value but the timing
    _assert_same_run(out, reference)


@pytest.mark.slow
def test_killed_mid_epoch_and_resumed_ends_with_the_same_weights(
    reference: Path, prepared: Path, tmp_path: Path, run_killed: Callable[..., int]
) -> None:
    out = tmp_path / "run"
    steps = _steps_per_epoch(reference)
    assert steps >= 2
    # The optimizer step in the middle of epoch 2: epoch 1 is checkpointed, epoch 2 is not.
    middle = steps + steps // 2 + 1
    assert run_killed(_args(prepared, out), at=("torch.optim:AdamW.step", middle)) == -9
    assert [h["epoch"] for h in _history(out)] == [1]
    assert main(_args(prepared, out, "--resume")) == 0
    _assert_same_run(out, reference)


class _Crash(BaseException):
    """Raised where the process would die (nothing catches it)."""


def _crash_at_replace(monkeypatch: pytest.MonkeyPatch, when: int, *, after: bool) -> None:
    """Die at the ``when``-th ``os.replace``: just before it, or just after it."""
    real = os.replace
    calls = [0]

    def replace(*args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == when and not after:
            raise _Crash
        real(*args, **kwargs)
        if calls[0] == when:
            raise _Crash

    monkeypatch.setattr(os, "replace", replace)


_WRITES = ("last.state.pt", "last.safetensors", "best.safetensors")
"""What an epoch renames into place, in order (best.safetensors when it improved)."""


def _replace_call(run: Path, epoch: int, name: str) -> int:
    """The os.replace call that commits file ``name`` of ``epoch``.

    A run first writes metrics.jsonl and config.json (2 calls); each epoch then appends
    its metrics line (no rename) and renames the files of ``_WRITES``.
    """
    history = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert history[epoch - 1]["best"] or name != "best.safetensors"
    calls = 2
    for line in history[: epoch - 1]:
        calls += 3 if line["best"] else 2
    return calls + _WRITES.index(name) + 1


def _weights_epoch(path: Path) -> int | None:
    from safetensors import safe_open

    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as handle:
        return int(handle.metadata()["epoch"])


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata())


def _on_disk(run: Path) -> tuple[int | None, int | None, int | None, int]:
    """The epochs of last.safetensors, best.safetensors and last.state.pt (None: no
    file), and the number of metrics lines."""
    state = run / "last.state.pt"
    saved = int(torch.load(state, weights_only=True)["epoch"]) if state.is_file() else None
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return (
        _weights_epoch(run / "last.safetensors"),
        _weights_epoch(run / "best.safetensors"),
        (saved),
        len(lines),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("epoch", "name", "after", "on_disk"),
    [
        # Every epoch of the reference improves, so each writes best.safetensors.
        pytest.param(1, _WRITES[0], False, (None, None, None, 1), id="before-the-first-state"),
        pytest.param(1, _WRITES[0], True, (None, None, 1, 1), id="after-the-first-state"),
        pytest.param(2, _WRITES[0], False, (1, 1, 1, 2), id="metrics-line-but-no-state"),
        pytest.param(2, _WRITES[0], True, (1, 1, 2, 2), id="between-state-and-weights"),
        pytest.param(2, _WRITES[1], True, (2, 1, 2, 2), id="between-last-and-best"),
        pytest.param(2, _WRITES[2], True, (2, 2, 2, 2), id="after-the-best"),
    ],
)
def test_a_crash_while_checkpointing_resumes_to_the_same_run(
    reference: Path,
    prepared: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    epoch: int,
    name: str,
    after: bool,
    on_disk: tuple[int | None, int | None, int | None, int],
) -> None:
    out = tmp_path / "run"
    _crash_at_replace(monkeypatch, _replace_call(reference, epoch, name), after=after)
    with pytest.raises(_Crash):
        main(_args(prepared, out))
    monkeypatch.undo()
    assert _on_disk(out) == on_disk  # the crash hit the intended point
    assert main(_args(prepared, out, "--resume")) == 0
    _assert_same_run(out, reference)


def test_a_resumed_run_rewrites_stale_weights_from_its_state(
    reference: Path, prepared: Path, tmp_path: Path
) -> None:
    """Weights files behind the state (a crash before their rename) are rewritten with
    the same tensors and metadata; a state without weights (older versions) still
    resumes from last.safetensors."""
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    (out / "last.safetensors").unlink()
    (out / "best.safetensors").write_bytes(b"half a file")
    assert main(_args(prepared, out, "--resume")) == 0  # finished: nothing to train
    for file in ("last.safetensors", "best.safetensors"):
        assert _metadata(out / file) == _metadata(reference / file), file
    _assert_same_run(out, reference)
    state = torch.load(out / "last.state.pt", weights_only=True)
    assert state.keys() >= {"model", "weights_metadata"}
    older = {k: v for k, v in state.items() if k not in ("model", "weights_metadata")}
    torch.save(older, out / "last.state.pt")
    assert main(_args(prepared, out, "--resume")) == 0
    (out / "last.safetensors").unlink()
    with pytest.raises(InputNotFoundError, match="older version"):
        _resume(prepared, out)


def test_resuming_removes_the_temporary_files_of_a_killed_run(
    reference: Path, prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    leftovers = [out / ".last.state.pt.0badc0de.tmp", out / ".metrics.jsonl.12345678.tmp"]
    for leftover in leftovers:
        leftover.write_bytes(b"half")
    kept = out / ".notes.txt"
    kept.write_text("mine")
    assert main(_args(prepared, out, "--resume")) == 0
    assert not any(leftover.exists() for leftover in leftovers)
    assert kept.read_text() == "mine"


def test_a_torn_last_metrics_line_is_dropped_on_resume(
    reference: Path, prepared: Path, tmp_path: Path
) -> None:
    """A process killed while appending a line leaves half of it: that epoch was never
    committed, so the resumed run writes the line again."""
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    with (out / "metrics.jsonl").open("a") as handle:
        handle.write('{"epoch": 4, "lr": 0.0')
    assert main(_args(prepared, out, "--resume")) == 0
    assert _history(out) == _history(reference)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    lines.insert(1, "not json")
    (out / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(CorruptFileError, match=r"metrics\.jsonl\] line 2 "):
        _resume(prepared, out)


class _Payload:
    """Pickles to a call of ``os.system``: what a malicious state file holds."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


def test_a_malicious_training_state_is_refused_without_running_it(
    reference: Path, prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    marker = tmp_path / "pwned"
    torch.save({"epoch": 1, "payload": _Payload(f"touch {marker}")}, out / "last.state.pt")
    assert b"system" in (out / "last.state.pt").read_bytes()
    with pytest.raises(RadiogenomicsError) as info:
        _resume(prepared, out)
    assert not marker.exists(), "loading the state ran the attacker's code"
    assert "system" in str(info.value)


def test_a_malicious_training_state_is_a_library_error(
    reference: Path, prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    torch.save({"payload": _Payload("true")}, out / "last.state.pt")
    with pytest.raises(CorruptFileError, match=r"last\.state\.pt") as info:
        _resume(prepared, out)
    assert "weights_only=False" not in str(info.value)
    assert info.value.__cause__ is None  # torch's advice is not chained either
    assert main(_args(prepared, out, "--resume")) == 1  # the command prints it, exits 1


@pytest.mark.parametrize(
    ("content", "said"),
    [
        pytest.param(b"", "EOFError", id="empty"),
        pytest.param(None, "zip archive", id="truncated"),
        pytest.param({"epoch": 1}, "no optimizer", id="not-a-state"),
        pytest.param([1, 2], "found list", id="a-list"),
    ],
)
def test_a_damaged_training_state_names_the_file_and_the_fix(
    reference: Path, prepared: Path, tmp_path: Path, content: object, said: str
) -> None:
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    state = out / "last.state.pt"
    if content is None:
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    elif isinstance(content, bytes):
        state.write_bytes(content)
    else:
        torch.save(content, state)
    with pytest.raises(CorruptFileError, match=r"last\.state\.pt") as info:
        _resume(prepared, out)
    message = str(info.value)
    assert said in message
    assert "without --resume" in message
    assert "weights_only=False" not in message


# -- stage 2 checkpoints ------------------------------------------------------------------


def _stage2_config(**changes: Any) -> Any:
    from radiogenomics.training import ClassificationTrainConfig

    settings: dict[str, Any] = {
        "backbone": "test_resnet",
        "hidden_size": 8,
        "sequence_length": 4,
        "stride": 4,
        "image_size": 32,
        "epochs": 1,
        "batch_size": 4,
        "warmup_epochs": 0,
        "val_fraction": 0.34,
        "device": "cpu",
    }
    return ClassificationTrainConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny stage 2 run folder (one epoch on synthetic frames, in ``../frames``)."""
    from radiogenomics.testing import write_synthetic_frame_store
    from radiogenomics.training import train_classification

    root = tmp_path_factory.mktemp("stage2")
    store = write_synthetic_frame_store(root / "frames", n_patients=6, seed=0, size=32)
    train_classification(store, root / "run", config=_stage2_config(), progress=False)
    return root / "run"


def _forge(
    run: Path,
    out: Path,
    change: dict[str, object],
    *,
    name: str = "best.safetensors",
    tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """A copy of a stage 2 checkpoint whose recorded settings say ``change`` (an entry
    set to None is removed; ``"train_config": "..."`` replaces the whole text)."""
    from safetensors import safe_open

    source = run / "best.safetensors"
    with safe_open(str(source), framework="pt") as handle:
        metadata = dict(handle.metadata())
    if "train_config" in change:
        text = change["train_config"]
        if text is None:
            del metadata["train_config"]
        else:
            metadata["train_config"] = str(text)
    else:
        metadata["train_config"] = json.dumps({**json.loads(metadata["train_config"]), **change})
    out.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(source)) if tensors is None else tensors
    save_file(weights, str(out / name), metadata=metadata)
    return out


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"backbone": "test_efficientnet"}, "conv_stem"),
        ({"hidden_size": 16}, "lstm"),
    ],
    ids=["other-backbone", "other-hidden-size"],
)
def test_a_stage2_checkpoint_whose_weights_do_not_fit_is_refused(
    classifier_run: Path, tmp_path: Path, change: dict[str, object], named: str
) -> None:
    from radiogenomics.training import load_classification_model

    forged = _forge(classifier_run, tmp_path / "forged", change)
    with pytest.raises(ConfigurationError) as info:
        load_classification_model(forged)
    message = str(info.value)
    assert "best.safetensors" in message
    assert named in message
    assert "missing" in message or "shape" in message
    assert "Error(s) in loading state_dict" not in message  # not torch's wall of text
    assert len(message) < 800


@pytest.mark.parametrize(
    ("text", "said"),
    [(None, "no train_config entry"), ("{not json", "unreadable"), ("[1]", "JSON object")],
    ids=["missing", "not-json", "not-an-object"],
)
def test_a_stage2_checkpoint_without_readable_settings_is_corrupt(
    classifier_run: Path, tmp_path: Path, text: str | None, said: str
) -> None:
    from radiogenomics.training import load_classification_model

    forged = _forge(classifier_run, tmp_path / "forged", {"train_config": text})
    with pytest.raises(CorruptFileError, match=r"best\.safetensors") as info:
        load_classification_model(forged)
    assert said in str(info.value)


def _stage2_copy(run: Path, out: Path, *, legacy: bool) -> Path:
    """A copy of a stage 2 run folder; ``legacy``: its state holds no weights (as
    written by older versions), so resuming reads last.safetensors."""
    shutil.copytree(run, out)
    if legacy:
        state = torch.load(out / "last.state.pt", weights_only=True)
        kept = {k: v for k, v in state.items() if k not in ("model", "weights_metadata")}
        torch.save(kept, out / "last.state.pt")
    return out


def test_a_stage2_resume_refuses_weights_recorded_for_another_model(
    classifier_run: Path, tmp_path: Path
) -> None:
    from radiogenomics.training import train_classification

    out = _stage2_copy(classifier_run, tmp_path / "run", legacy=True)
    _forge(
        classifier_run,
        out,
        {"backbone": "test_efficientnet", "hidden_size": 16},
        name="last.safetensors",
    )
    frames = classifier_run.parent / "frames"
    with pytest.raises(ConfigurationError, match=r"last\.safetensors") as info:
        train_classification(
            frames, out, config=_stage2_config(epochs=2), resume=True, progress=False
        )
    message = str(info.value)
    assert "backbone: expected 'test_resnet', found 'test_efficientnet'" in message
    assert "hidden_size: expected 8, found 16" in message
    # An older state with its own weights file resumes.
    out = _stage2_copy(classifier_run, tmp_path / "ok", legacy=True)
    result = train_classification(
        frames, out, config=_stage2_config(epochs=2), resume=True, progress=False
    )
    assert result.epochs_completed == 2


def test_a_stage2_state_whose_weights_do_not_fit_is_refused(
    classifier_run: Path, tmp_path: Path
) -> None:
    from radiogenomics.training import train_classification

    out = _stage2_copy(classifier_run, tmp_path / "run", legacy=False)
    state = torch.load(out / "last.state.pt", weights_only=True)
    dropped = sorted(state["model"])[0]
    del state["model"][dropped]
    torch.save(state, out / "last.state.pt")
    with pytest.raises(ConfigurationError, match=r"last\.state\.pt") as info:
        train_classification(
            classifier_run.parent / "frames",
            out,
            config=_stage2_config(epochs=2),
            resume=True,
            progress=False,
        )
    assert f"1 missing: {dropped}" in str(info.value)
