"""MediaPipe's BlazePose models, run through MediaPipe's own graphs: the person detector on one
picture, and the landmark model's person mask for one region of interest.

Both models ship inside the mediapipe wheel (Apache-2.0); their SHA-256 are recorded in
``models/__init__.py`` and checked at start-up (``check_models``). The graphs are built once
and are not thread-safe: both are used under one lock.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from background_replacement.models import POSE_DETECTOR, POSE_LANDMARKS
from background_replacement.segmenters.base import SegmenterUnavailable

# The detector's picture: letterboxed to 224×224, all people (weighted NMS) with their
# alignment points. The landmark graph: one person's 256×256 crop → landmarks and a mask
# warped back to the picture's size (MODEL_COMPLEXITY 1: pose_landmark_full).
_DETECT_GRAPH = """
input_stream: "image"
output_stream: "detections"
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image"
       output_stream: "DETECTIONS:detections" }
"""
_MASK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "mask"
output_stream: "first_mask"
node { calculator: "PoseLandmarkByRoiCpu" input_stream: "IMAGE:image" input_stream: "ROI:roi"
       output_stream: "AUXILIARY_LANDMARKS:first_auxiliary"
       output_stream: "SEGMENTATION_MASK:first_mask_image"
       input_side_packet: "MODEL_COMPLEXITY:complexity"
       input_side_packet: "ENABLE_SEGMENTATION:segmentation" }
node { calculator: "FromImageCalculator" input_stream: "IMAGE:first_mask_image"
       output_stream: "IMAGE_CPU:first_mask" }
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE_CPU:image"
       output_stream: "SIZE:size" }
node { calculator: "PoseLandmarksToRoi" input_stream: "LANDMARKS:first_auxiliary"
       input_stream: "IMAGE_SIZE:size" output_stream: "ROI:refined_roi" }
node { calculator: "PoseLandmarkByRoiCpu" input_stream: "IMAGE:image"
       input_stream: "ROI:refined_roi"
       output_stream: "LANDMARKS:landmarks" output_stream: "SEGMENTATION_MASK:mask_image"
       input_side_packet: "MODEL_COMPLEXITY:complexity"
       input_side_packet: "ENABLE_SEGMENTATION:segmentation" }
node { calculator: "FromImageCalculator" input_stream: "IMAGE:mask_image"
       output_stream: "IMAGE_CPU:mask" }
"""
# The landmark model's crop around a detection: the body circle (hip centre to the detector's
# full-body point) enlarged by this, as MediaPipe's own pose graph does.
ROI_SCALE = 1.25


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True)
class Detection:
    """One person the detector found: ``score`` in [0, 1], ``face`` (the detector's box, which
    holds the head), ``hips`` (x, y) pixels, and ``reach``, the radius in pixels of the circle
    around the hips that holds the whole body."""

    score: float
    face: Box
    hips: tuple[float, float]
    reach: float
    rotation: float  # radians, to make the body upright

    def moved(self, dx: float, dy: float) -> Detection:
        """The same detection in a picture whose origin lies (``dx``, ``dy``) earlier."""
        x0, y0, x1, y1 = self.face
        return Detection(self.score, (x0 + dx, y0 + dy, x1 + dx, y1 + dy),
                         (self.hips[0] + dx, self.hips[1] + dy), self.reach, self.rotation)


def detection_from_keypoints(score: float, face: Box, hips: tuple[float, float],
                             body: tuple[float, float]) -> Detection:
    """A detection from its face box, the hip centre and the full-body point (pixels): the
    body's reach is the hips' distance to that point, its rotation the angle that turns the
    hips→body line upright."""
    dx, dy = body[0] - hips[0], body[1] - hips[1]
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation -= 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    return Detection(score, face, hips, math.hypot(dx, dy), rotation)


def _mediapipe_root() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).resolve().parent.parent


def check_models(root: Path) -> None:
    """Raise ``SegmenterUnavailable`` unless both pose models lie under ``root`` (the folder
    that holds the mediapipe package) with their recorded SHA-256."""
    for model in (POSE_DETECTOR, POSE_LANDMARKS):
        path = root / model.package / model.path
        if not path.is_file():
            raise SegmenterUnavailable(f"{path} is missing; install it with: "
                                       f"{model.install_command}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != model.sha256:
            raise SegmenterUnavailable(
                f"{path} has SHA-256 {digest}, not the recorded {model.sha256}; reinstall it "
                f"with: {model.install_command}")


class PoseGraphs:
    """The detector graph and the mask graph, each started once; both are used under one lock
    (they share the outputs and the timestamps)."""

    def __init__(self) -> None:
        try:
            from google.protobuf import text_format
            from mediapipe.framework import calculator_pb2
            from mediapipe.python import packet_creator, packet_getter
            from mediapipe.python._framework_bindings import (
                calculator_graph,
                image_frame,
                resource_util,
            )
        except ImportError as exc:
            raise SegmenterUnavailable(f"mediapipe is not installed: {exc}") from exc
        self._create, self._frame = packet_creator, image_frame
        check_models(_mediapipe_root())
        resource_util.set_resource_dir(str(_mediapipe_root()))

        def graph(text: str):
            config = text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())
            return calculator_graph.CalculatorGraph(graph_config=config)

        self._outputs: dict[str, object] = {}
        self._detector, self._masker = graph(_DETECT_GRAPH), graph(_MASK_GRAPH)

        def keep(graph_, stream: str, read) -> None:
            graph_.observe_output_stream(
                stream, lambda _, packet: self._outputs.__setitem__(stream, read(packet)))

        def mask(packet) -> np.ndarray:
            return np.array(packet_getter.get_image_frame(packet).numpy_view(), np.float32)

        keep(self._detector, "detections", packet_getter.get_proto_list)
        keep(self._masker, "landmarks", packet_getter.get_proto)
        keep(self._masker, "mask", mask)
        keep(self._masker, "first_mask", mask)
        self._detector.start_run()
        self._masker.start_run(input_side_packets={
            "complexity": packet_creator.create_int(1),
            "segmentation": packet_creator.create_bool(True)})
        self._lock = threading.Lock()  # one lock: both graphs share the outputs and the clock
        self._clock = 0

    def _image(self, image_rgb: np.ndarray):
        return self._create.create_image_frame(image_format=self._frame.ImageFormat.SRGB,
                                               data=np.ascontiguousarray(image_rgb))

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Every person the detector finds in an RGB uint8 H×W×3 picture (pixels of it)."""
        height, width = image_rgb.shape[:2]
        with self._lock:
            self._clock += 1
            self._outputs.clear()
            self._detector.add_packet_to_input_stream(
                "image", self._image(image_rgb).at(self._clock))
            self._detector.wait_until_idle()
            found = self._outputs.get("detections", [])
        detections = []
        for proto in found:
            points = proto.location_data.relative_keypoints
            box = proto.location_data.relative_bounding_box
            face = (box.xmin * width, box.ymin * height, (box.xmin + box.width) * width,
                    (box.ymin + box.height) * height)
            detections.append(detection_from_keypoints(
                float(proto.score[0]), face, (points[0].x * width, points[0].y * height),
                (points[1].x * width, points[1].y * height)))
        return detections

    def person(self, image_rgb: np.ndarray,
               detection: Detection) -> tuple[np.ndarray, np.ndarray] | None:
        """The landmark model on the person of ``detection``: their mask (float32 H×W in
        [0, 1], the picture's size; the mean of the model's answers on the detection's crop and
        on the crop its landmarks give) and their 33 landmarks (float32 33×3: x, y in pixels,
        visibility). None when the model sees no person there."""
        from mediapipe.framework.formats import rect_pb2

        height, width = image_rgb.shape[:2]
        side = 2 * detection.reach * ROI_SCALE
        roi = rect_pb2.NormalizedRect(
            x_center=detection.hips[0] / width, y_center=detection.hips[1] / height,
            width=side / width, height=side / height, rotation=detection.rotation)
        with self._lock:
            self._clock += 1
            self._outputs.clear()
            self._masker.add_packet_to_input_stream("image",
                                                    self._image(image_rgb).at(self._clock))
            self._masker.add_packet_to_input_stream("roi",
                                                    self._create.create_proto(roi).at(self._clock))
            self._masker.wait_until_idle()
            found = dict(self._outputs)
        landmarks, mask, first = found.get("landmarks"), found.get("mask"), found.get("first_mask")
        if landmarks is None or mask is None:
            return None
        points = np.array([(p.x * width, p.y * height, p.visibility)
                           for p in landmarks.landmark], np.float32)
        return (mask if first is None else (mask + first) / 2), points
