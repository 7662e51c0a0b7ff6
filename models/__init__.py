"""Where model weights live: one record per weights file, used by the loaders and ``fetch`` alike.

Weights are never committed. ``python -m models fetch all`` downloads them for users with internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file: its name, where it comes from, how to check it, its licence."""

    key: str
    filename: str
    url: str
    sha256_prefix: str | None
    licence: str

    @property
    def default_path(self) -> Path:
        """Where the project keeps this file."""
        return MODELS_DIR / self.filename

    @property
    def fetch_command(self) -> str:
        """The command that downloads this file into ``models/``."""
        return f"python -m models fetch {self.key}"


MASKRCNN_COCO = WeightsFile(
    key="maskrcnn",
    filename="maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
    url="https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth",
    sha256_prefix="bf2d0c1e",
    licence="torchvision's COCO weights (BSD-3-Clause code; COCO annotations CC BY 4.0)",
)

FBA = WeightsFile(
    key="fba",
    filename="FBA.pth",
    # The file the FBA Matting README links (Google Drive id 1T_oiKDE_biWf2kqexMEN7ObWqtXAzbB1).
    url="https://drive.usercontent.google.com/download"
        "?id=1T_oiKDE_biWf2kqexMEN7ObWqtXAzbB1&export=download&confirm=t",
    sha256_prefix=None,
    licence="non-commercial use only (trained on the Adobe Deep Image Matting dataset)",
)

CATALOG: dict[str, WeightsFile] = {w.key: w for w in (MASKRCNN_COCO, FBA)}


def candidate_paths(weights: WeightsFile, configured: str = "") -> list[Path]:
    """Where to look for ``weights``: the configured path alone if set, else models/ then
    the torch hub cache (``torch.hub.get_dir()/checkpoints``)."""
    if configured:
        return [Path(configured).expanduser()]
    import torch.hub

    return [weights.default_path, Path(torch.hub.get_dir()) / "checkpoints" / weights.filename]
