"""Moved to face_msgs.face_layout (issue #14): import it from there.

Kept only while the lag modules (lag.py, lag_probe.py, owned by another engineer during
the move) and lip_policy/e2e_eval.py still import it from here; delete this file once they
import face_msgs.face_layout.
"""

import sys

from face_msgs import face_layout

sys.modules[__name__] = face_layout
