"""The simulated mirror as a node graph: driver on the emulated bus, face_sim, observer,
and calibration_node, started and stopped with face_common.node_processes.

mirror-eval, mirror-lag, the self-model benchmark and the babbling tests run it.
"""

import contextlib

# NodeProcess, NodeStartError, find_script, set_niceness are temporary re-exports (issue
# #14): lag.py and lip_policy/e2e_eval.py, owned by other engineers while face_common took
# these over, still import them from here. Delete them once those files import them from
# face_common.node_processes / face_common.scheduling.
from face_common.node_processes import (  # noqa: F401
    NodeProcess,
    NodeStartError,
    find_script,
    running_nodes,
    wait_for_processes,
)
from face_common.scheduling import set_niceness  # noqa: F401

# The simulated camera's image for babbling and evaluation: the face's eye span is about
# 100 px, plenty for the landmark model (it crops the face to 192x192), at half the
# rendering and observing cost of 640x480.
SIM_IMAGE = {'width': 480, 'height': 360}


def mirror_graph_specs(calibration=None, face_sim=None):
    """(script, parameters) of the simulated mirror: driver on the emulated bus, face_sim
    (renders the face from the measured joints), observer; calibration_node when
    calibration (its parameters) is not None. face_sim: face_sim_node parameters
    (default SIM_IMAGE).
    """
    specs = [('face_motor_driver_node', {'port': 'sim', 'calibration_mode': True}),
             ('face_sim_node', dict(SIM_IMAGE if face_sim is None else face_sim)),
             # Detection in every frame makes the landmarks a pure function of the image;
             # tracking would carry ~1% of mouth width of jitter from the previous pose.
             ('observer_node', {'static_images': True})]
    if calibration is not None:
        specs.append(('calibration_node', calibration))
    return specs


@contextlib.contextmanager
def mirror_graph(with_calibration=True, startup_seconds=3.0, **options):
    """Start the simulated mirror graph; stop all of it on exit."""
    calibration = options.pop('calibration', {}) if with_calibration else None
    with running_nodes(*mirror_graph_specs(calibration=calibration, **options)) as nodes:
        wait_for_processes(nodes, startup_seconds)
        yield nodes
