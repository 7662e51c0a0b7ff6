"""The backends by name: the class that implements each segmenter and matter, in the order
``auto`` tries them, and the defaults of their sizes, which both the settings and the backends'
constructors take. Data only, so the settings can check a name without importing a backend
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

# Mask R-CNN: the shorter and longer side the detector sees (its masks are 28×28, so a larger
# input mostly costs time; README, "Settings", has the figures), and the region proposals its
# box head scores (torchvision's default is 1000).
MASKRCNN_MIN_SIZE = 320
MASKRCNN_MAX_SIZE = 576
MASKRCNN_PROPOSALS = 300
# FBA: above this many pixels in the box around the people it runs smaller (0: never).
FBA_MAX_PIXELS = 250_000
# Closed-form: the solve's cost grows with its unknown pixels; above this many it runs at
# reduced size (scaling.py brings it back). Chosen on portraits-tune (300, pose + closed-form)
# once the grey-guided rule brought solves back: 20 000 against 40 000 gave mean IoU 0.9666 vs
# 0.9667, boundary F 0.7323 vs 0.7347, 0.51 vs 0.72 s a photo; confirmed on portraits-dev (20)
# 0.9661/0.7054 vs 0.9663/0.7040, fullbody-dev (60) 0.9449/0.8634 vs 0.9447/0.8626,
# davis-people (60) 0.9030/0.9050 vs 0.9030/0.9049 (bench.matting_quality).
CLOSED_FORM_MAX_UNKNOWN = 20_000
