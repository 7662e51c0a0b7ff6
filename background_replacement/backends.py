"""The backends by name: the class that implements each segmenter and matter, in the order
``auto`` tries them. Data only, so the settings can check a name without importing a backend
or its registry. Each class declares its key as its ``name`` (tests/test_backends.py checks
the two agree)."""

SEGMENTER_BACKENDS = {
    "maskrcnn": "background_replacement.segmenters.maskrcnn:MaskRCNNSegmenter",
    "pose": "background_replacement.segmenters.pose:PoseSegmenter",
    "selfie": "background_replacement.segmenters.selfie:SelfieSegmenter",
}
MATTER_BACKENDS = {
    "fba": "background_replacement.matters.fba_matter:FBAMatter",
    "closed-form": "background_replacement.matters.closed_form:ClosedFormMatter",
}
AUTO = "auto"  # the first backend that loads
