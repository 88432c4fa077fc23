#!/usr/bin/env bash
# Fetch, here (where PyPI is reachable), the wheels of the project's dependencies that the
# GPU machine lacks, into .whl/ (git-ignored), for `python3 benchmarks/gpu_check.py`,
# which installs them there without the network. The GPU machine's image has torch,
# torchvision, timm, OpenCV, NumPy, SciPy, scikit-learn, safetensors, tqdm, Pillow and
# huggingface-hub; it lacks nibabel, pydicom and segmentation-models-pytorch, all three
# pure Python, whose own requirements are among those it has.
#
#   bash benchmarks/gpu_wheels.sh            # into .whl/
#   bash benchmarks/gpu_wheels.sh DIR        # into DIR
#
# Versions: those of .venv (what the tests ran) when it exists, else the pins below.
# Wheels of these three packages already in the folder are replaced (pip stops an
# install that finds two versions of one package); other files are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.whl}
python=${PYTHON:-python3}
declare -A pins=([nibabel]=5.4.2 [pydicom]=3.0.2 [segmentation-models-pytorch]=0.6.0)
requirements=()
for name in nibabel pydicom segmentation-models-pytorch; do
    version=${pins[$name]}
    if [ -x .venv/bin/python ]; then
        version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || echo "$version")
    fi
    requirements+=("$name==$version")
    mkdir -p "$dest"
    find "$dest" -maxdepth 1 -name "${name//-/_}-*.whl" -delete
done
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$dest" "${requirements[@]}"
ls -l "$dest"/*.whl
echo "carry $dest to the GPU machine (device tool: carry [\"$dest\"])"
