"""Isolation of every test run: its own ROS domain, localhost-only discovery, logs in the tree.

Set before any test imports rclpy, and inherited by every node process a test starts, so
concurrent runs on one machine never see each other's topics.
"""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent
BUILD = ROOT / 'build'

# Domain IDs 1..100 are valid on Linux with default port ranges; the pid spreads runs over them.
os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 100 + 1))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_LOG_DIR', str(BUILD / 'ros_log'))
os.environ.setdefault('ROS_HOME', str(BUILD / 'ros_home'))
os.environ.setdefault('NUMBA_CACHE_DIR', str(BUILD / 'numba_cache'))
os.environ.setdefault('MPLBACKEND', 'Agg')


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
