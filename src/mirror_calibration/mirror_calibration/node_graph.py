"""The simulated mirror as a running node graph (face_common.graphs 'mirror'): driver on
the emulated bus, face_sim, observer, and calibration_node.

mirror-babble, mirror-eval, mirror-lag, the self-model benchmark and the babbling tests run it.
"""

import contextlib

# NodeProcess, NodeStartError, find_script, set_niceness are temporary re-exports (issue
# #14): lag.py, owned by other engineers while face_common took these over, still imports
# them from here. Delete them once it imports them from face_common.node_processes /
# face_common.scheduling.
from face_common.graphs import SIM_IMAGE, graph, running  # noqa: F401
from face_common.node_processes import (  # noqa: F401
    NodeProcess,
    NodeStartError,
    find_script,
    wait_for_processes,
)
from face_common.scheduling import set_niceness  # noqa: F401


@contextlib.contextmanager
def mirror_graph(with_calibration=True, startup_seconds=3.0, **options):
    """Start the simulated mirror graph; stop all of it on exit. options: calibration
    (calibration_node overrides), face_sim (face_sim_node overrides, default SIM_IMAGE)."""
    calibration = options.pop('calibration', {}) if with_calibration else None
    with running(graph('mirror', calibration=calibration, **options)) as nodes:
        wait_for_processes(nodes, startup_seconds)
        yield nodes
