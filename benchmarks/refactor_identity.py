"""Digests of everything the command line produces, to compare two versions of the library.

A refactor of the library must not change its results. This script drives the command
line only (which a refactor must not change either) on small synthetic cohorts and,
when present, the real BraTS case, for the ``writeup``, ``released-code`` and ``tiny``
presets, and writes one JSON file of digests:

* every file of each prepared stage 1 folder and each stage 2 frame store (SHA-256),
* the tensors of every trained run's ``best.safetensors`` (SHA-256 of each tensor's
  bytes: the files themselves are not byte-stable, their metadata order varies),
* the bytes of each ``submission.csv``.

Run it with one version, then the other, on the same machine, and compare::

    PYTHONPATH=/path/to/old/src python benchmarks/refactor_identity.py --out old.json
    python benchmarks/refactor_identity.py --out new.json
    python benchmarks/refactor_identity.py --compare old.json new.json

Training runs on the CPU with one thread, so the tensors are reproducible on one
machine; digests are not meant to match across machines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REAL_CASE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brats2021"
PRESETS = ("writeup", "released-code", "tiny")


def _cli(*argv: str) -> None:
    """Run ``radiogenomics ARGV`` in a fresh process (the PYTHONPATH given decides which)."""
    command = [sys.executable, "-m", "radiogenomics.cli", *argv]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{done.stdout}\n{done.stderr}")


def _tree(root: Path) -> dict[str, str]:
    digests: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(".png"):
            continue
        if path.name == "segmentation-model.json":
            # It holds the stage 1 checkpoint's path (a temporary folder) and the digest of
            # its bytes, which are not stable across writes (the metadata order varies);
            # the checkpoint's tensors are compared on their own ("stage1-run/...").
            continue
        digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _tensors(path: Path) -> dict[str, str]:
    from safetensors.numpy import load_file

    return {
        name: hashlib.sha256(array.tobytes()).hexdigest()
        for name, array in sorted(load_file(str(path)).items())
    }


def collect(work: Path, real_root: Path | None) -> dict[str, object]:
    """Prepare, train and predict on synthetic cohorts; return every digest."""
    from radiogenomics.testing import write_brats_cohort, write_task2_cohort

    digests: dict[str, object] = {}
    task1 = work / "task1"
    write_brats_cohort(task1, n_cases=4, seed=0, shape=(48, 48, 36))
    task2 = write_task2_cohort(work / "task2", n_patients=8, seed=1, size=48, n_slices=12)
    test2 = write_task2_cohort(work / "test2", n_patients=3, seed=2, size=48, n_slices=12)
    for preset in PRESETS:
        out = work / f"prepared-{preset}"
        _cli("prepare-segmentation", "--task1-dir", str(task1), "--out", str(out),
             "--preset", preset, "--no-progress")  # fmt: skip
        digests[f"stage1/{preset}"] = _tree(out)
        if real_root is not None:
            real = work / f"real-{preset}"
            _cli("prepare-segmentation", "--task1-dir", str(real_root), "--out", str(real),
                 "--preset", preset, "--no-progress")  # fmt: skip
            digests[f"stage1-real/{preset}"] = _tree(real)
    seg = work / "seg"
    _cli("train-segmentation", "--data", str(work / "prepared-tiny"), "--out", str(seg),
         "--preset", "tiny", "--epochs", "2", "--device", "cpu", "--no-progress")  # fmt: skip
    digests["stage1-run/tiny"] = _tensors(seg / "best.safetensors")
    for preset in PRESETS:
        store = work / f"frames-{preset}"
        _cli("prepare-classification", "--task2-dir", str(task2 / "train"),
             "--labels", str(task2 / "train_labels.csv"), "--segmentation-model", str(seg),
             "--out", str(store), "--preset", preset, "--no-progress")  # fmt: skip
        digests[f"stage2/{preset}"] = _tree(store)
    runs = work / "cls"
    _cli("train-classification", "--data", str(work / "frames-tiny"), "--mri-type", "all",
         "--out", str(runs), "--preset", "tiny", "--epochs", "2", "--device", "cpu",
         "--no-progress")  # fmt: skip
    models = sorted(p for p in runs.iterdir() if (p / "best.safetensors").is_file())
    for run in models:
        digests[f"stage2-run/{run.name}"] = _tensors(run / "best.safetensors")
    submission = work / "submission.csv"
    _cli("predict", "--task2-dir", str(test2 / "train"), "--segmentation-model", str(seg),
         "--classification-models", *map(str, models), "--out", str(submission),
         "--preset", "tiny", "--no-progress")  # fmt: skip
    digests["submission"] = hashlib.sha256(submission.read_bytes()).hexdigest()
    return digests


def compare(old: dict[str, object], new: dict[str, object]) -> list[str]:
    """The keys (and files) whose digests differ."""
    problems = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for name in sorted(set(a) | set(b)):
                if a.get(name) != b.get(name):
                    problems.append(f"{key}: {name}")
        else:
            problems.append(key)
    return problems


def main() -> int:
    """Collect digests, or compare two files of them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="JSON file of digests to write")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    parser.add_argument(
        "--real",
        type=Path,
        default=REAL_CASE if REAL_CASE.is_dir() else None,
        help="BraTS folder of real cases to prepare too (default: ../shared/data/brats2021)",
    )
    args = parser.parse_args()
    if args.compare:
        old, new = (json.loads(p.read_text()) for p in args.compare)
        problems = compare(old, new)
        for line in problems:
            print("DIFFERS", line)
        files = sum(len(v) if isinstance(v, dict) else 1 for v in old.values())
        print(f"{len(old)} outputs, {files} files/tensors compared; {len(problems)} differ")
        return 1 if problems else 0
    if args.out is None:
        parser.error("give --out FILE (or --compare OLD NEW)")
    with tempfile.TemporaryDirectory() as work:
        digests = collect(Path(work), args.real)
    args.out.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}: {len(digests)} outputs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
