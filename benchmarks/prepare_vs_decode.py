"""Time stage 1 preparation of one real case against merely decoding its NIfTI files.

Both are measured in one run, in one process pinned to one core, as the median of
``--repeats`` runs (after one warm-up run that also imports the libraries). The target
of the foundation issue: preparation at most 1.5x the decode time.

    .venv/bin/python benchmarks/prepare_vs_decode.py \
        --case ../shared/data/brats2021/BraTS2021_00006 --repeats 5

Writes a JSON record to ``--json`` (default ``benchmarks/results/prepare_vs_decode.json``)
and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _pin_one_core() -> str:
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return "not pinned"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", type=Path, required=True, help="a BraTS case folder")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--preset", default="writeup", choices=("writeup", "released-code"))
    parser.add_argument(
        "--json", type=Path, default=Path("benchmarks/results/prepare_vs_decode.json")
    )
    args = parser.parse_args()

    pinned = _pin_one_core()
    import cv2
    import nibabel as nib
    import numpy as np

    cv2.setNumThreads(1)

    from radiogenomics.data.prepare_segmentation import prepare_case
    from radiogenomics.io.nifti import find_brats_cases
    from radiogenomics.presets import segmentation_preset

    case = find_brats_cases(args.case)[0]
    files = [*case.images.values(), case.label]
    config = segmentation_preset(args.preset)

    def decode() -> float:
        start = time.perf_counter()
        for path in files:
            np.asanyarray(nib.load(str(path)).dataobj)
        return time.perf_counter() - start

    def prepare() -> tuple[float, int]:
        out = Path(tempfile.mkdtemp(prefix="rg-bench-"))
        try:
            start = time.perf_counter()
            outcome = prepare_case(case, out, config)
            elapsed = time.perf_counter() - start
        finally:
            shutil.rmtree(out, ignore_errors=True)
        assert outcome.status == "written", outcome
        return elapsed, outcome.n_slices

    decode()
    prepare()  # warm-up: imports, caches
    decode_times, prepare_times = [], []
    n_slices = 0
    for _ in range(args.repeats):
        decode_times.append(decode())
        elapsed, n_slices = prepare()
        prepare_times.append(elapsed)
    decode_s = statistics.median(decode_times)
    prepare_s = statistics.median(prepare_times)
    ratio = prepare_s / decode_s
    record = {
        "case": case.case_id,
        "preset": args.preset,
        "repeats": args.repeats,
        "cpu": platform.processor() or platform.machine(),
        "affinity": pinned,
        "decode_s_median": round(decode_s, 4),
        "prepare_s_median": round(prepare_s, 4),
        "ratio": round(ratio, 3),
        "target_ratio": 1.5,
        "slices_written": n_slices,
        "decode_s_all": [round(t, 4) for t in decode_times],
        "prepare_s_all": [round(t, 4) for t in prepare_times],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"case {case.case_id}, preset {args.preset}, {pinned}, {args.repeats} repeats")
    print(f"{'decode 5 NIfTI files':<28}{decode_s:8.3f} s")
    print(f"{'prepare-segmentation':<28}{prepare_s:8.3f} s  ({n_slices} slices)")
    verdict = "meets" if ratio <= 1.5 else "misses"
    print(f"{'ratio':<28}{ratio:8.2f} x   ({verdict} the 1.5x target)")


if __name__ == "__main__":
    main()
