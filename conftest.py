"""Isolation of every test run: its own ROS domain, localhost-only discovery, logs in the tree.

Set before any test imports rclpy, and inherited by every node process a test starts, so
concurrent runs on one machine never see each other's topics.
"""

import os
import pathlib
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent
BUILD = ROOT / 'build'

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'


def _quiet_domain():
    """A ROS domain in 1..100 (valid on Linux with default port ranges) on which nothing else
    on this host is heard.

    The start is random, not the pid: containers start their processes with the same pids,
    and two test runs sharing a loopback on one domain would drive each other's faces.
    """
    start = int.from_bytes(os.urandom(2), 'little') % 100
    candidates = [(start + k * 37) % 100 + 1 for k in range(5)]
    try:
        import rclpy
    except ImportError:  # not set up yet: the tests that need ROS will say so
        return candidates[0]
    for domain in candidates:
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=domain)
        try:
            probe = rclpy.create_node('domain_probe', context=context)
            time.sleep(1.0)  # participant discovery on loopback takes well under this
            others = set(probe.get_node_names()) - {'domain_probe'}
            probe.destroy_node()
        finally:
            rclpy.try_shutdown(context=context)
        if not others:
            return domain
    return candidates[0]


os.environ.setdefault('ROS_LOG_DIR', str(BUILD / 'ros_log'))
os.environ.setdefault('ROS_HOME', str(BUILD / 'ros_home'))
os.environ.setdefault('NUMBA_CACHE_DIR', str(BUILD / 'numba_cache'))
os.environ.setdefault('MPLBACKEND', 'Agg')
if 'ROS_DOMAIN_ID' not in os.environ:
    os.environ['ROS_DOMAIN_ID'] = str(_quiet_domain())


@pytest.fixture
def ros_context():
    """An initialised rclpy context for one test, shut down afterwards."""
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)
