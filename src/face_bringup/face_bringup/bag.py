"""rosbag2 (MCAP) files of the face: the type store that knows face_msgs, writing and reading.

Bags are written with the rosbags library (pure Python; rosbag2 itself has no wheels
here). Its CDR is the same as rclpy's, so raw messages received from DDS go into the bag
unchanged, and the bags play in `ros2 bag play` and open in Foxglove. Plain Python.

Crash safety: rosbags writes a bag's index and metadata.yaml only when it is closed, so a
recorder killed mid-recording would leave nothing readable. BagWriter therefore records in
segments of SEGMENT_SECONDS, each a complete bag closed before the next starts (under
<bag>/.segments/); close() joins them into one multi-file rosbag2 bag (the MCAP files move
into <bag>/, one metadata.yaml lists them all). After a kill, read_messages (or
recover_bag) joins the segments that were closed and drops the one being written: at most
the last SEGMENT_SECONDS are lost.
"""

import os
import pathlib
import shutil
import sys
import time

import yaml
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from face_common.time import stamp_seconds

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


SEGMENT_SECONDS = 1.0
SEGMENTS = '.segments'
_INFO = 'rosbag2_bagfile_information'


class BagWriter:
    """Append raw CDR messages to a new MCAP bag: add_topic(name, type) then write(...);
    written in closed segments of segment_seconds (see the module docstring)."""

    def __init__(self, path, typestore=None, segment_seconds=SEGMENT_SECONDS):
        self.path = pathlib.Path(path)
        if self.path.exists():
            raise BagError(f'{self.path} exists; choose a new --out (a bag is never overwritten)')
        self.typestore = typestore or face_typestore()
        self.segment_seconds = float(segment_seconds)
        (self.path / SEGMENTS).mkdir(parents=True)
        self._types = {}           # topic -> message type, for every segment
        self._segments = 0
        self._open_segment()
        self.counts = {}

    def _open_segment(self):
        folder = self.path / SEGMENTS / f'{self.path.name}_{self._segments:05d}'
        self._segments += 1
        self._writer = Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {t: self._writer.add_connection(t, m, typestore=self.typestore)
                             for t, m in self._types.items()}
        self._opened = time.monotonic()

    def add_topic(self, topic, msgtype):
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore)
            self._types[topic] = msgtype
            self.counts[topic] = 0

    def write(self, topic, timestamp_ns, raw):
        if time.monotonic() - self._opened >= self.segment_seconds:
            self._writer.close()
            self._open_segment()
        self._writer.write(self._connections[topic], int(timestamp_ns), bytes(raw))
        self.counts[topic] += 1

    def close(self):
        self._writer.close()
        recover_bag(self.path)


def recover_bag(path):
    """Join the closed segments of a recording into one bag at path (see the module
    docstring); a segment that was being written (no metadata.yaml) is dropped. Returns the
    number of segments dropped; nothing to do for a bag that is already whole."""
    path = pathlib.Path(path)
    folder = path / SEGMENTS
    if (path / 'metadata.yaml').exists() or not folder.is_dir():
        return 0
    closed = sorted(f for f in folder.iterdir() if (f / 'metadata.yaml').is_file())
    dropped = sum(1 for f in folder.iterdir() if f not in closed)
    if not closed:
        raise BagError(f'{path} holds no closed segment; the recording was killed within '
                       f'its first {SEGMENT_SECONDS:g} s and has nothing to read')
    infos = []
    for segment in closed:
        info = yaml.safe_load((segment / 'metadata.yaml').read_text())[_INFO]
        for entry in info['files']:
            os.replace(segment / entry['path'], path / entry['path'])
        infos.append(info)
    whole = dict(infos[0])
    whole['files'] = [entry for info in infos for entry in info['files']]
    whole['relative_file_paths'] = [entry['path'] for entry in whole['files']]
    whole['message_count'] = sum(info['message_count'] for info in infos)
    start = min(info['starting_time']['nanoseconds_since_epoch'] for info in infos)
    end = max(info['starting_time']['nanoseconds_since_epoch'] + info['duration']['nanoseconds']
              for info in infos)
    whole['starting_time'] = {'nanoseconds_since_epoch': start}
    whole['duration'] = {'nanoseconds': end - start}
    topics = {}
    for info in infos:
        for entry in info['topics_with_message_count']:
            name = entry['topic_metadata']['name']
            if name in topics:
                topics[name]['message_count'] += entry['message_count']
            else:
                topics[name] = dict(entry)
    whole['topics_with_message_count'] = list(topics.values())
    temporary = path / 'metadata.yaml.tmp'
    with open(temporary, 'w') as f:
        yaml.safe_dump({_INFO: whole}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path / 'metadata.yaml')
    shutil.rmtree(folder)
    return dropped


def header_seconds(msg):
    """[s] of a message's header stamp (read from a bag or received live)."""
    return stamp_seconds(msg.header.stamp)


def read_messages(path, topics, typestore=None):
    """{topic: [(bag time [ns], deserialised message), ...]} for the topics asked for."""
    path = pathlib.Path(path)
    if not path.exists():
        raise BagError(f'bag {path} does not exist')
    if not (path / 'metadata.yaml').exists() and (path / SEGMENTS).is_dir():
        dropped = recover_bag(path)
        print(f'{path} was not closed (its recorder was killed): joined its closed segments, '
              f'dropped {dropped} unfinished', file=sys.stderr)
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
