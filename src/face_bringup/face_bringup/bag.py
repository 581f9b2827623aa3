"""rosbag2 (MCAP) files of the face: the type store that knows face_msgs, writing and reading.

Bags are written with the rosbags library (pure Python; rosbag2 itself has no wheels
here). Its CDR is the same as rclpy's, so raw messages received from DDS go into the bag
unchanged, and the bags play in `ros2 bag play` and open in Foxglove. Plain Python.
"""

import os
import pathlib
import sys

from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

FACE_MSGS = ('AudioChunk', 'FaceCommand', 'FaceLandmarks')


class BagError(RuntimeError):
    """A bag is missing, truncated, foreign or lacks a topic; the text says what to do."""


def _face_msgs_dir():
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    for prefix in prefixes + [sys.prefix]:
        candidate = pathlib.Path(prefix) / 'share' / 'face_msgs' / 'msg'
        if candidate.is_dir():
            return candidate
    raise BagError('face_msgs .msg files not found under AMENT_PREFIX_PATH or the venv; '
                   'run `make setup`')


def face_typestore():
    """The ROS 2 Kilted type store with face_msgs registered from its installed .msg files."""
    store = get_typestore(Stores.ROS2_KILTED)
    folder = _face_msgs_dir()
    types = {}
    for name in FACE_MSGS:
        types.update(get_types_from_msg((folder / f'{name}.msg').read_text(),
                                        f'face_msgs/msg/{name}'))
    store.register(types)
    return store


class BagWriter:
    """Append raw CDR messages to a new MCAP bag: add_topic(name, type) then write(...)."""

    def __init__(self, path, typestore=None):
        self.path = pathlib.Path(path)
        if self.path.exists():
            raise BagError(f'{self.path} exists; choose a new --out (a bag is never overwritten)')
        self.typestore = typestore or face_typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {}
        self.counts = {}

    def add_topic(self, topic, msgtype):
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore)
            self.counts[topic] = 0

    def write(self, topic, timestamp_ns, raw):
        self._writer.write(self._connections[topic], int(timestamp_ns), bytes(raw))
        self.counts[topic] += 1

    def close(self):
        self._writer.close()


def stamp_seconds(msg):
    """[s] of a message's header stamp (read from a bag or received live)."""
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def read_messages(path, topics, typestore=None):
    """{topic: [(bag time [ns], deserialised message), ...]} for the topics asked for."""
    path = pathlib.Path(path)
    if not path.exists():
        raise BagError(f'bag {path} does not exist')
    typestore = typestore or face_typestore()
    try:
        with Reader(path) as reader:
            available = {c.topic: c for c in reader.connections}
            missing = [t for t in topics if t not in available]
            if missing:
                raise BagError(f'bag {path} has no {", ".join(missing)}; it holds '
                               f'{", ".join(sorted(available)) or "no topics"}. Record '
                               'them with face-record --topics ...')
            out = {t: [] for t in topics}
            wanted = [available[t] for t in topics]
            for connection, stamp, raw in reader.messages(connections=wanted):
                out[connection.topic].append(
                    (stamp, typestore.deserialize_cdr(raw, connection.msgtype)))
            return out
    except ReaderError as exc:
        raise BagError(f'cannot read bag {path} ({exc}); it may be truncated or not a '
                       'rosbag2 bag') from exc
