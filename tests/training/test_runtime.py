"""TrainingRuntime and EpochClock: the training fast path, on the CPU."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
import torch

from radiogenomics.errors import ConfigurationError
from radiogenomics.training._distributed import DistributedContext
from radiogenomics.training._runtime import (
    EpochClock,
    TrainingRuntime,
    check_fast_path,
    load_optimizer_state,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _runtime(**changes: object) -> TrainingRuntime:
    settings: dict[str, object] = {
        "device": "cpu",
        "amp": "off",
        "channels_last": None,
        "compile": False,
        "augment": True,
        "augment_on": "loader",
        "seed": 4,
        **changes,
    }
    return TrainingRuntime.create(**settings)  # type: ignore[arg-type]


def _tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1)
    )


def test_check_fast_path() -> None:
    check_fast_path(None, False, "loader")
    check_fast_path(True, True, "device")
    with pytest.raises(ConfigurationError, match="channels_last='auto'"):
        check_fast_path("auto", False, "loader")
    with pytest.raises(ConfigurationError, match="compile=1"):
        check_fast_path(None, 1, "loader")
    with pytest.raises(ConfigurationError, match="Did you mean 'device'"):
        check_fast_path(None, False, "devise")


def test_cpu_defaults() -> None:
    runtime = _runtime()
    assert runtime.device == torch.device("cpu")
    assert runtime.amp is None
    assert runtime.channels_last is False  # None: off on the CPU
    assert runtime.augment is None
    assert runtime.augment_generator(0) is None
    assert not runtime.context.active
    optimizer = runtime.adamw(_tiny().parameters(), lr=1e-3, weight_decay=0.01)
    assert not optimizer.param_groups[0]["fused"]
    assert _runtime(amp="bf16").amp is torch.bfloat16  # opt-in on the CPU


def test_channels_last_model_and_inputs() -> None:
    runtime = _runtime(channels_last=True)
    model = runtime.place(_tiny())
    weight = next(model.parameters())
    assert weight.is_contiguous(memory_format=torch.channels_last)
    images = runtime.memory_format(torch.zeros(2, 3, 8, 8))
    assert images.is_contiguous(memory_format=torch.channels_last)
    chunks = torch.zeros(2, 4, 3, 8, 8)
    assert runtime.memory_format(chunks) is chunks  # 5-D inputs are left alone
    assert runtime.training_model(model) is model  # no compile, one process


def test_device_augmentation_generator_per_epoch() -> None:
    runtime = _runtime(augment_on="device")
    assert runtime.augment is not None
    draws = [runtime.augment_generator(e) for e in (0, 0, 1)]
    values = [torch.rand(3, generator=g) for g in draws if g is not None]
    assert torch.equal(values[0], values[1])
    assert not torch.equal(values[0], values[2])
    assert _runtime(augment=False, augment_on="device").augment is None


def test_train_loader_shuffles_by_seed_and_epoch() -> None:
    runtime = _runtime()
    dataset = list(range(10))

    def order(epoch: int) -> list[int]:
        loader = runtime.train_loader(dataset, batch_size=4, num_workers=0, epoch=epoch)  # type: ignore[arg-type]
        return [int(x) for batch in loader for x in batch]

    assert sorted(order(0)) == dataset
    assert order(0) == order(0)
    assert order(0) != order(1)
    loader, positions = runtime.val_loader(dataset, batch_size=4, num_workers=0)  # type: ignore[arg-type]
    assert [int(x) for batch in loader for x in batch] == dataset == list(positions)


def test_epoch_clock_splits_loading_from_the_step() -> None:
    def slow_loader() -> Iterator[int]:
        for item in range(3):
            time.sleep(0.02)
            yield item

    clock = EpochClock(torch.device("cpu"))
    for batch in clock.batches(slow_loader()):
        clock.count(10)
        time.sleep(0.04 if batch < 2 else 0.0)
    assert clock.images == 30
    assert clock.data_seconds >= 0.06
    assert clock.model_seconds >= 0.08
    summary = clock.summary(DistributedContext())
    assert set(summary) == {"train_images_per_second", "data_seconds", "model_seconds"}
    total = clock.data_seconds + clock.model_seconds
    assert summary["train_images_per_second"] == pytest.approx(30 / total, rel=1e-3)
    assert (
        EpochClock(torch.device("cpu")).summary(DistributedContext())["train_images_per_second"]
        == 0.0
    )


def test_optimizer_state_keeps_this_optimizers_kernels() -> None:
    model = _tiny()
    plain = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    plain.step()
    fused = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    load_optimizer_state(fused, plain.state_dict())
    assert fused.param_groups[0]["fused"] is True
    assert fused.state_dict()["state"][0]["step"].item() == 1
    fused.step()  # runs with the loaded moments
    back = torch.optim.AdamW(model.parameters(), lr=1e-3)
    load_optimizer_state(back, fused.state_dict())
    assert not back.param_groups[0]["fused"]
    assert back.state_dict()["state"][0]["step"].item() == 2


@pytest.mark.slow
def test_compiled_training_step_matches_eager() -> None:
    if shutil.which("c++") is None and shutil.which("g++") is None:
        pytest.skip("torch.compile (inductor) needs a C++ compiler on the CPU; none found")
    from torch._dynamo.exc import BackendCompilerFailed

    x, y = torch.randn(4, 3, 8, 8), torch.randn(4, 2, 8, 8)
    losses = []
    for compile in (False, True):
        runtime = _runtime(compile=compile)
        model = runtime.place(_tiny())
        step = runtime.training_model(model)
        assert (step is model) is not compile
        try:
            loss = torch.nn.functional.mse_loss(step(x), y)
        except BackendCompilerFailed as error:
            pytest.skip(f"inductor cannot compile on this machine: {error}")
        loss.backward()
        losses.append((loss.item(), [p.grad.clone() for p in model.parameters()]))  # type: ignore[union-attr]
    assert losses[1][0] == pytest.approx(losses[0][0], rel=1e-5)
    for compiled, eager in zip(losses[1][1], losses[0][1], strict=True):
        assert torch.allclose(compiled, eager, rtol=1e-4, atol=1e-6)
