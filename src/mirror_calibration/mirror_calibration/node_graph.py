"""The simulated mirror as a running node graph (face_common.graphs 'mirror'): driver on
the emulated bus, face_sim, observer, and calibration_node.

mirror-babble, mirror-eval, mirror-lag, the self-model benchmark and the babbling tests run it.
"""

import contextlib

from face_common.graphs import graph, running
from face_common.node_processes import wait_for_processes


@contextlib.contextmanager
def mirror_graph(with_calibration=True, startup_seconds=3.0, **options):
    """Start the simulated mirror graph; stop all of it on exit. options: calibration
    (calibration_node overrides), face_sim (face_sim_node overrides, default SIM_IMAGE)."""
    calibration = options.pop('calibration', {}) if with_calibration else None
    with running(graph('mirror', calibration=calibration, **options)) as nodes:
        wait_for_processes(nodes, startup_seconds)
        yield nodes
