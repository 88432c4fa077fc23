"""Build both models from pretrained weights in local files (nothing downloads).

The reference starts stage 1 from an ImageNet DenseNet121 encoder and stage 2 from an
ImageNet ECA-NFNet-L0 backbone. radiogenomics never downloads: you fetch the weights
once, on a machine with network access, and pass the file's path. This example stands
a freshly initialised network's state dict in for the downloaded file, builds both
models from it, checks that the weights arrived, and shows the errors for a file that
does not fit, a hub name and a missing file.

    python examples/local_pretrained_weights.py                 # small timm networks
    python examples/local_pretrained_weights.py --reference     # DenseNet121, NFNet-L0

How to get the real files (on a machine with network access)::

    import timm, torch, torchvision
    torch.save(torchvision.models.densenet121(weights="IMAGENET1K_V1").state_dict(),
               "densenet121-imagenet.pth")
    torch.save(timm.create_model("eca_nfnet_l0", pretrained=True).state_dict(),
               "eca_nfnet_l0-imagenet.pth")
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads, ever


def save_stand_in(kind: str, name: str, path: Path) -> Path:
    """Save a network's state dict as a "downloaded" ImageNet file would be.

    ``kind`` is ``"timm"`` (a timm checkpoint, classifier included) or ``"torchvision"``.
    """
    if kind == "timm":
        import timm

        network = timm.create_model(name, pretrained=False)  # with its 1000-class head
    else:
        import torchvision  # type: ignore[import-untyped]

        network = getattr(torchvision.models, name)(weights=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(path))
    else:
        torch.save(network.state_dict(), path)
    return path


def matching_tensors(module: torch.nn.Module, path: Path) -> tuple[int, int]:
    """How many of ``module``'s tensors equal the file's tensor of the same name.

    Names are compared after dropping wrapper prefixes (smp's timm encoders keep the
    network under ``model.``).
    """
    from radiogenomics.models import load_state_dict_file

    saved = load_state_dict_file(path)
    state = module.state_dict()
    equal = 0
    for key, tensor in state.items():
        name = key.removeprefix("model.")
        if name in saved and torch.equal(saved[name], tensor):
            equal += 1
    return equal, len(state)


def show_error(what: str, build: Callable[[], object]) -> None:
    """Run ``build``, which must fail, and print the library's message."""
    from radiogenomics.errors import RadiogenomicsError

    try:
        build()
    except RadiogenomicsError as error:
        print(f"  {what}: {type(error).__name__}: {error}")
    else:
        raise AssertionError(f"{what}: expected an error")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("pretrained"), help="where files go")
    parser.add_argument(
        "--reference", action="store_true", help="the reference's DenseNet121 and NFNet-L0"
    )
    args = parser.parse_args(argv)

    from radiogenomics.models import create_segmentation_model
    from radiogenomics.training import ClassificationTrainConfig

    if args.reference:
        # torchvision's DenseNet121 file for the Unet++ encoder; timm's for the backbone.
        encoder_file = save_stand_in("torchvision", "densenet121", args.out / "densenet121.pth")
        backbone_file = save_stand_in("timm", "eca_nfnet_l0", args.out / "eca_nfnet_l0.pth")
        architecture, encoder, backbone = "UnetPlusPlus", "densenet121", "eca_nfnet_l0"
    else:
        # One timm ResNet10-T file serves both: smp's "tu-" encoders are timm models.
        encoder_file = save_stand_in("timm", "resnet10t", args.out / "resnet10t.safetensors")
        backbone_file = encoder_file
        architecture, encoder, backbone = "Unet", "tu-resnet10t", "resnet10t"

    # Stage 1: the encoder's weights come from the file; the decoder starts at random.
    # train_segmentation(..., encoder_weights=encoder_file) does the same when training.
    model = create_segmentation_model(
        architecture=architecture, encoder=encoder, encoder_weights=encoder_file
    )
    equal, total = matching_tensors(model.get_submodule("encoder"), encoder_file)
    print(f"stage 1 {architecture}/{encoder}: {equal} of {total} encoder tensors")
    print(f"  from {encoder_file}")

    # Stage 2: the backbone's weights come from the file (its ImageNet classifier is
    # dropped); the LSTM and the head start at random. The training config carries the
    # path, so train_classification builds the same model.
    config = ClassificationTrainConfig(backbone=backbone, backbone_weights=str(backbone_file))
    classifier = config.create_model()
    equal, total = matching_tensors(classifier.backbone, backbone_file)
    print(f"stage 2 {backbone}: {equal} of {total} backbone tensors from {backbone_file}")
    if equal != total:
        print("  some tensors differ from the file")
        return 1

    # The checks: a file of another network, a hub name, a missing file.
    print("what the library refuses:")
    show_error(
        "a file of another network",
        lambda: ClassificationTrainConfig(
            backbone="test_resnet", backbone_weights=str(backbone_file)
        ).create_model(),
    )
    show_error(
        "a hub name",
        lambda: create_segmentation_model(encoder=encoder, encoder_weights="imagenet"),
    )
    show_error(
        "a missing file",
        lambda: create_segmentation_model(encoder=encoder, encoder_weights=args.out / "none.pth"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
