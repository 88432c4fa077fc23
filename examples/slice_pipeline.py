"""The stage 1 slice pipeline on one BraTS case, with a montage of the kept slices.

Reads a BraTS case (or makes a synthetic one), cuts FLAIR into slices along the three
planes, keeps distinct slices that show enough tumor, and writes a PNG montage of the kept
slices with the whole tumor (green) and enhancing tumor (red) outlined
(radiogenomics.viz.save_montage; each tile is labelled with its plane, slice index and
modality).

    python examples/slice_pipeline.py --case ../shared/data/brats2021/BraTS2021_00006
    python examples/slice_pipeline.py            # a synthetic case, no data needed
"""

from __future__ import annotations

import argparse
from pathlib import Path

from radiogenomics import DistinctSampler, Pipeline, ResizeSlices, SliceExtractor, TumorAreaFilter
from radiogenomics.io import find_brats_cases, load_case
from radiogenomics.records import VolumeRecord
from radiogenomics.viz import save_montage


def load_volume(case_dir: Path | None, modality: str) -> VolumeRecord:
    """The chosen modality of a real case, or of a synthetic one when no folder is given."""
    if case_dir is None:
        from radiogenomics.testing import make_brats_case

        volumes = make_brats_case(seed=7, shape=(96, 96, 72)).volumes()
    else:
        volumes = load_case(find_brats_cases(case_dir)[0]).volumes()
    return next(v for v in volumes if v.modality == modality)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", type=Path, default=None, help="a BraTS case folder")
    parser.add_argument("--modality", default="flair", choices=("flair", "t1", "t1ce", "t2"))
    parser.add_argument("--out", type=Path, default=Path("slice-montage.png"))
    parser.add_argument("--size", type=int, default=128, help="tile size in pixels")
    args = parser.parse_args(argv)

    volume = load_volume(args.case, args.modality)
    pipeline = Pipeline(
        [
            SliceExtractor(orientation="radiological"),
            DistinctSampler(max_similarity=0.9),
            TumorAreaFilter(min_ratio=0.01),
            ResizeSlices(size=args.size),
        ]
    )
    print(pipeline)
    kept = pipeline(volume)
    if not kept:
        print("no slice passed the filters")
        return 1
    for plane in ("sagittal", "coronal", "axial"):
        ratios = [s.tumor_ratio or 0.0 for s in kept if s.plane == plane]
        span = f"{min(ratios):.3f}-{max(ratios):.3f}" if ratios else "-"
        print(f"{plane:>9}: {len(ratios):3d} slices kept, tumor/brain {span}")
    path = save_montage(kept, args.out, columns=8, size=args.size)
    print(f"montage of {len(kept)} slices -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
