"""Batch jobs on Ray: many photos, or a long video in segments, matted by a pool of Ray actors
that each load the models once (the core's ``BackgroundReplacer``, no HTTP), with results written
exactly once and a manifest that lets a rerun finish an interrupted job. ``batch.cli`` is the
command; Ray comes with the ``cluster`` extra."""
