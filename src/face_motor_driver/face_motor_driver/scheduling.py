"""Moved to face_common.scheduling (issue #14): import it from there.

Kept only while face_speech/speech_node.py (another engineer's package, not yet committed)
still imports it from here; delete this file once it imports face_common.scheduling.
"""

import sys

from face_common import scheduling

sys.modules[__name__] = scheduling
