"""Moved to face_common.video (issue #14): import it from there.

Kept only while lip_policy/e2e_eval.py (owned by another engineer during the move) still
imports write_video from here; delete this file once it imports face_common.video.
"""

import sys

from face_common import video

sys.modules[__name__] = video
