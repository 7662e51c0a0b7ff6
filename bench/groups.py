"""A generated set of groups of people, with one mask per person, made from ../shared/data.

People are cut by their hand-made masks out of fullbody-dev and davis-people and pasted, 2–8 per
picture, 10–90 % of the frame high, touching and overlapping, onto empty frames of
``videos/one-by-one-person-detection.mp4`` (frames far in time from anyone in the room) or onto
plain generated rooms. The nearer a person (the lower their feet), the later they are pasted, and
whoever is pasted later hides those behind. Each paste's edge is softened (area resampling, then
a Gaussian of ``EDGE_SIGMA`` px), so that a hard outline does not give the people away.

Written under ``out/groups/`` (outside git, never committed), regenerated when missing or made
by another recipe: ``images/<id>.jpg``, ``masks/<id>.png`` (union of the people, 0/255, the
layout ``bench.data.portraits`` reads), ``instances/<id>.png`` (uint16: 0 nobody, k the k-th
person pasted) and ``manifest.json``. Deterministic: picture i depends only on ``SEED`` and i.

    .venv/bin/python -m bench.groups [--count 120] [--force] [--sheet out/groups_sheet.png]
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bench.data import DATA, ROOT

GROUPS = ROOT / "out" / "groups"
VIDEO = DATA / "videos" / "one-by-one-person-detection.mp4"
RECIPE = 1  # bump whenever the pictures would change: the cache is then regenerated
SEED = 24
COUNT = 120
GENERATED_SIZE = (720, 1280)  # height, width of the generated rooms (frames keep their size)
GENERATED_SHARE = 0.4  # of the pictures on a generated room rather than a video frame
HEIGHTS = (0.10, 0.90)  # a person's height, as a share of the frame's
MAX_UPSCALE = 1.5  # a person is never enlarged more than this
EDGE_SIGMA = 0.8  # px, the softening of each pasted edge
MIN_VISIBLE = 0.45  # of a person's own pixels, left visible by those in front
DAVIS_STEP = 4  # every 4th davis frame is a source (neighbours are nearly the same pose)
EMPTY_MARGIN_S = 2.0  # an empty frame has nobody in the room this long before and after
BACKGROUND_FRAMES = 12  # empty frames kept, evenly spread over the video's empty stretches


@dataclass(frozen=True)
class Cutout:
    """One person cut from a photo: RGB uint8 and mask bool at the crop of the mask's box;
    ``cut_below`` when the mask reaches the photo's bottom edge (legs outside the photo)."""

    name: str
    rgb: np.ndarray
    mask: np.ndarray
    cut_below: bool


@dataclass(frozen=True)
class GroupPicture:
    """A generated picture: RGB uint8 H×W×3, ``labels`` uint16 H×W (k: the k-th person
    pasted, 0: nobody), ``layers`` bool N×H×W (each person's whole pasted mask, before those
    in front hid parts of it) and the sources of the background and of each person."""

    rgb: np.ndarray
    labels: np.ndarray
    layers: np.ndarray
    background: str
    people: tuple[str, ...]


def source_list() -> list[tuple[str, Path, Path]]:
    """(name, image, mask) of every photo people are cut from, in a fixed order."""
    sources = []
    for image in sorted((DATA / "fullbody-dev" / "images").glob("*.jpg")):
        sources.append((f"fullbody/{image.stem}", image, image.parent.parent / "masks"
                        / f"{image.stem}.png"))
    items = json.loads((DATA / "davis-people" / "manifest.json").read_text())["items"]
    for item in items[::DAVIS_STEP]:
        sources.append((f"davis/{item['id']}", DATA / "davis-people" / item["image"],
                        DATA / "davis-people" / item["mask"]))
    return sources


@functools.lru_cache(maxsize=256)
def cutout(name: str, image: Path, mask_path: Path) -> Cutout | None:
    """The person of one photo cropped to their mask, or None when the mask reaches the left,
    right or top edge (a person cut there would look sliced in the middle of a picture)."""
    mask = np.asarray(Image.open(mask_path).convert("L")) > 127
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0 or rows[0] <= 1 or cols[0] <= 1 or cols[-1] >= mask.shape[1] - 2:
        return None
    rgb = np.asarray(Image.open(image).convert("RGB"))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return Cutout(name, rgb[box].copy(), mask[box].copy(), rows[-1] >= mask.shape[0] - 2)


def video_frames(step: int = 1) -> tuple[list[np.ndarray], float]:
    """Every ``step``-th frame of ``VIDEO`` (RGB uint8) and their rate, frames per second."""
    capture = cv2.VideoCapture(str(VIDEO))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    frames, index = [], 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    return frames, fps / step


def shows_the_room(frames: Sequence[np.ndarray], fps: float) -> np.ndarray:
    """For each frame, whether it shows the empty room. The camera is fixed and people come
    one at a time, each standing a while at the same table (so the median frame holds a
    person): the empty room is the view that recurs across the whole video. A frame shows it
    when at least 10 % of the frames more than 40 s away from it look the same (under 1 % of a
    64×36 grey copy differs by more than 30 levels); a person's frames look like no frame
    40 s away, since the next one wears other clothes and stands otherwise."""
    small = np.stack([cv2.cvtColor(cv2.resize(f, (64, 36), interpolation=cv2.INTER_AREA),
                                   cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.int16)
    flat = small.reshape(len(small), -1)
    alike = np.zeros((len(flat), len(flat)), bool)
    for start in range(0, len(flat), 16):
        differing = (np.abs(flat[start:start + 16, None] - flat[None]) > 30).sum(axis=2)
        alike[start:start + 16] = differing < 0.01 * flat.shape[1]
    seconds = np.arange(len(flat)) / fps
    far = np.abs(seconds[:, None] - seconds[None]) > 40
    return (alike & far).sum(axis=1) >= 0.1 * np.maximum(far.sum(axis=1), 1)


@functools.lru_cache(maxsize=1)
def empty_frames() -> tuple[tuple[int, np.ndarray], ...]:
    """``BACKGROUND_FRAMES`` (index, RGB) frames of the video with nobody in the room: it shows
    the empty room and so does every frame ``EMPTY_MARGIN_S`` before and after it (nobody
    walking in or out at the edge); every other frame is looked at."""
    frames, fps = video_frames(step=2)
    room = shows_the_room(frames, fps)
    margin = round(EMPTY_MARGIN_S * fps)
    padded = np.pad(~room, margin, constant_values=True)
    empty = np.flatnonzero([not padded[i:i + 2 * margin + 1].any() for i in range(len(room))])
    if empty.size < BACKGROUND_FRAMES:
        raise SystemExit(f"{VIDEO}: only {empty.size} frames with nobody in them found")
    chosen = empty[np.linspace(0, empty.size - 1, BACKGROUND_FRAMES).round().astype(int)]
    return tuple((int(i) * 2, frames[i]) for i in chosen)


def generated_room(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A plain room, ``GENERATED_SIZE``: a wall with a few panels over a floor, in muted
    colours, with smooth shading and grain; and the floor line as a share of the height."""
    height, width = GENERATED_SIZE
    horizon = rng.uniform(0.45, 0.7)

    def muted(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high) + rng.uniform(-18, 18, 3)

    wall, floor = muted(110, 235), muted(50, 180)
    rows = np.arange(height)[:, None, None] / height
    room = np.where(rows < horizon, wall, floor) * (1 - 0.25 * np.abs(rows - horizon))
    room = np.broadcast_to(room, (height, width, 3)).copy()
    for _ in range(rng.integers(0, 5)):
        x0, x1 = np.sort(rng.integers(0, width, 2))
        y0, y1 = np.sort(rng.integers(0, int(horizon * height), 2))
        room[y0:y1, x0:x1] = muted(30, 240)
    shade = cv2.resize(rng.normal(0, 10, (6, 10)), (width, height),
                       interpolation=cv2.INTER_CUBIC)[..., None]
    room = cv2.GaussianBlur(room + shade, (0, 0), 1.5) + rng.normal(0, 3, room.shape)
    return np.clip(room, 0, 255).astype(np.uint8), horizon


def background(rng: np.random.Generator) -> tuple[str, np.ndarray, float]:
    """A background (name, RGB, floor line as a share of its height): a generated room or an
    empty video frame, mirrored half the time."""
    if rng.random() < GENERATED_SHARE:
        room, horizon = generated_room(rng)
        return "generated", room, horizon
    frames = empty_frames()
    index, frame = frames[rng.integers(len(frames))]
    flip = bool(rng.random() < 0.5)
    # The room's floor meets the back wall about 55 % down the frame.
    return f"video/{index}{'/mirrored' if flip else ''}", frame[:, ::-1] if flip else frame, 0.55


@dataclass(frozen=True)
class Placed:
    """A person ready to paste: RGB float32 and soft alpha at their size in the picture, the
    picture pixel (row, column) of their top left corner, and the name of their photo."""

    rgb: np.ndarray
    alpha: np.ndarray
    top: int
    left: int
    name: str

    @property
    def feet(self) -> int:
        return self.top + self.alpha.shape[0]


def scaled(person: Cutout, height: int, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """RGB float32 and soft alpha of ``person`` at ``height`` pixels, ``EDGE_SIGMA`` blurred
    and padded so that the blur is not cut off."""
    scale = height / person.mask.shape[0]
    size = (max(1, round(person.mask.shape[1] * scale)), max(1, height))
    how = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    rgb = cv2.resize(person.rgb, size, interpolation=how).astype(np.float32)
    alpha = cv2.resize(person.mask.astype(np.float32), size, interpolation=how)
    pad = 3
    rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    alpha = cv2.GaussianBlur(np.pad(alpha, pad), (0, 0), EDGE_SIGMA)
    return (rgb[:, ::-1], alpha[:, ::-1]) if mirror else (rgb, alpha)


def pick_person(rng: np.random.Generator, sources: list[tuple[str, Path, Path]],
                height: int) -> Cutout:
    """A random usable person (half the time from fullbody-dev, else from davis-people) who
    need not be enlarged more than ``MAX_UPSCALE`` to ``height`` pixels."""
    fullbody = [s for s in sources if s[0].startswith("fullbody/")]
    davis = [s for s in sources if not s[0].startswith("fullbody/")]
    for _ in range(200):
        pool = fullbody if rng.random() < 0.5 or not davis else davis
        person = cutout(*pool[rng.integers(len(pool))])
        if person is not None and person.mask.shape[0] * MAX_UPSCALE >= height:
            return person
    raise SystemExit(f"no person in the shared data is {height / MAX_UPSCALE:.0f} px high")


def plan(rng: np.random.Generator, sources: list[tuple[str, Path, Path]],
         shape: tuple[int, int], horizon: float) -> list[Placed]:
    """2–8 people with their sizes and heights in the picture (columns still to choose): a
    group of about one size, a third of them of any size; feet lower for the taller (nearer),
    at the bottom edge for a person whose photo cut them there; far to near."""
    frame_height, _ = shape
    base = np.exp(rng.uniform(np.log(HEIGHTS[0]), np.log(HEIGHTS[1])))
    people = []
    for _ in range(rng.integers(2, 9)):
        share = (rng.uniform(*HEIGHTS) if rng.random() < 1 / 3
                 else base * rng.uniform(0.8, 1.25))
        height = round(float(np.clip(share, *HEIGHTS)) * frame_height)
        person = pick_person(rng, sources, height)
        rgb, alpha = scaled(person, height, bool(rng.random() < 0.5))
        feet = horizon * frame_height + rng.uniform(0.3, 0.9) * height
        feet = min(1.03 * frame_height, max(height + 4.0, feet))
        if person.cut_below:
            feet = max(feet, frame_height + 3.0)
        people.append(Placed(rgb, alpha, round(feet) - alpha.shape[0], 0, person.name))
    return sorted(people, key=lambda p: p.feet)


def arrange(rng: np.random.Generator, people: list[Placed], width: int) -> list[Placed]:
    """Choose each person's column: three in four beside someone already placed, their boxes
    touching or overlapping by up to 65 %, the others anywhere; at most 20 % off the side."""
    placed: list[Placed] = []
    for index in rng.permutation(len(people)):
        person = people[index]
        size = person.alpha.shape[1]
        centre = rng.uniform(size / 2, max(size / 2 + 1, width - size / 2))
        if placed and rng.random() < 0.75:
            anchor = placed[rng.integers(len(placed))]
            anchor_size = anchor.alpha.shape[1]
            side = 1 if rng.random() < 0.5 else -1
            centre = (anchor.left + anchor_size / 2
                      + side * (anchor_size + size) / 2 * rng.uniform(0.35, 1.0))
        centre = float(np.clip(centre, 0.3 * size, width - 0.3 * size))
        placed.append(Placed(person.rgb, person.alpha, person.top, round(centre - size / 2),
                             person.name))
    return sorted(placed, key=lambda p: p.feet)


def compose(picture: np.ndarray, people: list[Placed]) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Paste ``people`` in order onto ``picture``: RGB uint8, labels uint16 (k where the k-th
    pasted has alpha ≥ 0.5 and nobody later does) and each one's whole mask, bool N×H×W."""
    height, width = picture.shape[:2]
    canvas = picture.astype(np.float32)
    labels = np.zeros((height, width), np.uint16)
    layers = np.zeros((len(people), height, width), bool)
    for number, person in enumerate(people, start=1):
        rows, cols = person.alpha.shape
        y0, x0 = max(0, person.top), max(0, person.left)
        y1, x1 = min(height, person.top + rows), min(width, person.left + cols)
        if y0 >= y1 or x0 >= x1:
            continue
        inner = (slice(y0 - person.top, y1 - person.top), slice(x0 - person.left,
                                                                  x1 - person.left))
        alpha = person.alpha[inner][..., None]
        canvas[y0:y1, x0:x1] = alpha * person.rgb[inner] + (1 - alpha) * canvas[y0:y1, x0:x1]
        layers[number - 1, y0:y1, x0:x1] = alpha[..., 0] >= 0.5
        labels[layers[number - 1]] = number
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8), labels, layers


def visible_enough(labels: np.ndarray, layers: np.ndarray) -> np.ndarray:
    """For each person, whether those in front leave ``MIN_VISIBLE`` of them in view."""
    own = layers.reshape(len(layers), -1).sum(axis=1)
    seen = np.bincount(labels.ravel(), minlength=len(layers) + 1)[1:]
    return (own > 0) & (seen >= MIN_VISIBLE * np.maximum(own, 1))


def group_picture(index: int, sources: list[tuple[str, Path, Path]] | None = None
                  ) -> GroupPicture:
    """Picture ``index`` of the set (the same whatever else is made). Columns are drawn again
    until everyone stays visible enough; after 30 tries the most hidden person is left out."""
    rng = np.random.default_rng([SEED, RECIPE, index])
    sources = sources or source_list()
    name, picture, horizon = background(rng)
    people = plan(rng, sources, picture.shape[:2], horizon)
    tries = 0
    while True:
        placed = arrange(rng, people, picture.shape[1])
        rgb, labels, layers = compose(picture, placed)
        seen = visible_enough(labels, layers)
        if seen.all():
            return GroupPicture(rgb, labels, layers, name, tuple(p.name for p in placed))
        tries += 1
        if tries > 300:
            raise RuntimeError(f"group picture {index}: no arrangement keeps everyone in view")
        if tries % 30 == 0 and len(people) > 2:
            own = layers.reshape(len(layers), -1).sum(axis=1)
            shown = np.bincount(labels.ravel(), minlength=len(placed) + 1)[1:] / np.maximum(own,
                                                                                          1)
            hidden = placed[int(np.argmin(shown))]
            people = [p for p in people if p.top != hidden.top or p.name != hidden.name]


def picture_id(index: int) -> str:
    return f"{index:04d}"


def write_groups(folder: Path, count: int) -> None:
    """Generate pictures 0 … ``count`` − 1 into ``folder`` (emptied first)."""
    if folder.exists():
        shutil.rmtree(folder)
    for part in ("images", "masks", "instances"):
        (folder / part).mkdir(parents=True)
    sources, items = source_list(), []
    for index in range(count):
        picture = group_picture(index, sources)
        name = picture_id(index)
        Image.fromarray(picture.rgb).save(folder / "images" / f"{name}.jpg", quality=92)
        Image.fromarray(((picture.labels > 0) * 255).astype(np.uint8)).save(
            folder / "masks" / f"{name}.png")
        Image.fromarray(picture.labels).save(folder / "instances" / f"{name}.png")
        items.append({"id": name, "width": picture.rgb.shape[1], "height": picture.rgb.shape[0],
                      "background": picture.background, "people": list(picture.people)})
    manifest = {"recipe": RECIPE, "seed": SEED, "count": count, "items": items}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def ensure_groups(folder: Path = GROUPS, count: int = COUNT) -> Path:
    """``folder`` holding the set, generated now unless it is there from this recipe."""
    manifest = folder / "manifest.json"
    if manifest.is_file():
        made = json.loads(manifest.read_text())
        if (made.get("recipe"), made.get("seed"), made.get("count")) == (RECIPE, SEED, count):
            return folder
    if not (DATA / "fullbody-dev").is_dir() or not VIDEO.is_file():
        raise SystemExit(f"{DATA} is missing: the groups are made from the evaluation data")
    print(f"generating {count} group pictures into {folder} …", flush=True)
    write_groups(folder, count)
    return folder


def instances(folder: Path, image_id: str) -> np.ndarray:
    """The uint16 instance labels of one picture (0 nobody, k the k-th person pasted)."""
    return np.asarray(Image.open(folder / "instances" / f"{image_id}.png")).astype(np.uint16)


def outlined(rgb: np.ndarray, labels: np.ndarray, height: int = 180) -> np.ndarray:
    """``rgb`` with each instance's outline in its own colour, scaled to ``height`` rows."""
    shown = rgb.copy()
    colours = np.random.default_rng(0).integers(64, 256, (int(labels.max()) + 1, 3))
    square = np.ones((3, 3), np.uint8)
    for label in range(1, int(labels.max()) + 1):
        mask = (labels == label).astype(np.uint8)
        shown[(cv2.dilate(mask, square, iterations=2) - mask) > 0] = colours[label]
    width = round(rgb.shape[1] * height / rgb.shape[0])
    return cv2.resize(shown, (width, height), interpolation=cv2.INTER_AREA)


def sheet(tiles: list[np.ndarray], columns: int = 6) -> np.ndarray:
    """Tiles of one height in rows of ``columns``, white between and around them."""
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((4, 4), (4, 4 + width - t.shape[1]), (0, 0)), constant_values=255)
             for t in tiles]
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % columns)
    return np.vstack([np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--folder", type=Path, default=GROUPS)
    parser.add_argument("--force", action="store_true", help="generate even if up to date")
    parser.add_argument("--sheet", type=Path, default=ROOT / "out" / "groups_sheet.png",
                        help="the first 36 pictures with each person outlined, and (beside it, "
                             "*_backgrounds.png) the empty video frames used")
    args = parser.parse_args()
    if args.force and (args.folder / "manifest.json").is_file():
        (args.folder / "manifest.json").unlink()
    folder = ensure_groups(args.folder, args.count)
    tiles = []
    for image in sorted((folder / "images").glob("*.jpg"))[:36]:
        rgb = np.asarray(Image.open(image).convert("RGB"))
        tiles.append(outlined(rgb, instances(folder, image.stem)))
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet(tiles)).save(args.sheet)
    frames = [cv2.resize(f, (320, 180), interpolation=cv2.INTER_AREA) for _, f in empty_frames()]
    backgrounds = args.sheet.with_name(f"{args.sheet.stem}_backgrounds.png")
    Image.fromarray(sheet(frames, 4)).save(backgrounds)
    people = [len(item["people"]) for item in json.loads((folder / "manifest.json").read_text())
              ["items"]]
    print(f"{folder}: {len(people)} pictures, {sum(people)} people ({min(people)}–{max(people)} "
          f"each); sheets {args.sheet} and {backgrounds}")


if __name__ == "__main__":
    main()
