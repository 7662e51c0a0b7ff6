"""The video engine the video command (``client.video``) and batch (``batch.video``) both
drive: decoding and writing films (``media``), backdrops, each frame's matte within its budget
(``frame_matting``), temporal stability, and the engine with its one frame sink (``engine``).
Needs the ``client`` extra (PyAV); ``import background_replacement`` does not load it."""
