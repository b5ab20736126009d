"""Real CSI from your own hardware: captures read by csiread (:mod:`~csipose.io.capture`) and
labelled recordings of them (:mod:`~csipose.io.recording`). Nothing here imports torch."""

from __future__ import annotations

from csipose.io.capture import FORMATS, CsiRecording, detect_format, read_capture
from csipose.io.recording import RecordingDataset, capture_frames, find_recordings

__all__ = ["FORMATS", "CsiRecording", "RecordingDataset", "capture_frames", "detect_format", "find_recordings",
           "read_capture"]
