"""Where model weights live: one record per weights file, used by the loaders and ``fetch`` alike.

Weights are never committed. ``remove-background-models fetch all`` downloads them for users
with internet.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
# The extra that installs PyTorch for the design's models; the embedded ones never need it.
DESIGN_EXTRA = "design"


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file: its name, where it comes from, how to check it, its licence.

    ``sha256`` is the file's SHA-256 in hex, whole or as far as it is published (torch.hub's
    convention: the first 8 digits in the file name); ``sha256_source`` says where it is from.
    """

    key: str
    filename: str
    url: str
    sha256: str
    sha256_source: str
    licence: str

    @property
    def default_path(self) -> Path:
        """Where the project keeps this file."""
        return MODELS_DIR / self.filename

    @property
    def fetch_command(self) -> str:
        """The command that downloads this file into ``models/``."""
        return f"remove-background-models fetch {self.key}"


MASKRCNN_COCO = WeightsFile(
    key="maskrcnn",
    filename="maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
    url="https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
    sha256="bf2d0c1e",
    sha256_source="the file name, as torchvision publishes it (torch.hub checks this prefix); "
                  "no whole hash is published",
    licence="torchvision's COCO weights (BSD-3-Clause code; COCO annotations CC BY 4.0)",
)

FBA = WeightsFile(
    key="fba",
    filename="FBA.pth",
    # The file the FBA Matting README links (Google Drive id 1T_oiKDE_biWf2kqexMEN7ObWqtXAzbB1).
    url="https://drive.usercontent.google.com/download"
        "?id=1T_oiKDE_biWf2kqexMEN7ObWqtXAzbB1&export=download&confirm=t",
    # The authors publish no hash. This is the Git LFS record of the same file (138,813,960
    # bytes, the README's "139mb") in the public mirror huggingface.co/leonelhs/FBA-Matting.
    sha256="f3f8a2b6cefd7200368b6008a712468ed1debc6658693db31b0f719f658a2967",
    sha256_source="the Git LFS record of a public mirror of the file (huggingface.co, "
                  "leonelhs/FBA-Matting); its authors publish none",
    licence="non-commercial use only (trained on the Adobe Deep Image Matting dataset)",
)

CATALOG: dict[str, WeightsFile] = {w.key: w for w in (MASKRCNN_COCO, FBA)}


@dataclass(frozen=True)
class PackagedModel:
    """A model file that ships inside an installed package (pip installs it with the project):
    where it lies in the package, its SHA-256 and its licence."""

    package: str
    version: str
    path: str  # inside the package
    sha256: str
    licence: str

    @property
    def install_command(self) -> str:
        """The command that installs the package that holds this model."""
        return f"pip install {self.package}=={self.version}"


POSE_DETECTOR = PackagedModel(
    "mediapipe", "0.10.21", "modules/pose_detection/pose_detection.tflite",
    "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", "Apache-2.0")
POSE_LANDMARKS = PackagedModel(
    "mediapipe", "0.10.21", "modules/pose_landmark/pose_landmark_full.tflite",
    "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", "Apache-2.0")


def candidate_paths(weights: WeightsFile, configured: str = "") -> list[Path]:
    """Where to look for ``weights``: the configured path alone if set, else models/ then
    the torch hub cache (``torch.hub.get_dir()/checkpoints``)."""
    if configured:
        return [Path(configured).expanduser()]
    return [weights.default_path, torch_hub_dir() / "checkpoints" / weights.filename]


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()``, found without importing PyTorch (seconds) where it is not
    imported yet: ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``, else
    ``~/.cache/torch/hub``, as torch.hub finds it."""
    if "torch.hub" in sys.modules:
        return Path(sys.modules["torch.hub"].get_dir())
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch")
    return Path(home).expanduser() / "hub"


def design_missing(weights: WeightsFile, paths: list[Path], label: str) -> str | None:
    """Why a design model surely cannot load, known without importing PyTorch: PyTorch is not
    installed, or its weights are at none of ``paths``; None when it may load."""
    if find_spec("torch") is None:
        return (f"PyTorch is not installed, which {label} needs: pip install "
                f"'background-replacement[{DESIGN_EXTRA}]'")
    if not any(path.is_file() for path in paths):
        looked = ", ".join(str(path) for path in paths)
        return (f"{label} weights not found (looked at {looked}). Download them with: "
                f"{weights.fetch_command}")
    return None
