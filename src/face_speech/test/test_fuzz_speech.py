"""No input stops speech_node: 10,000 fuzzed AudioChunks on speech/audio_in and 300 fuzzed
Say goals, over DDS, to the real node (null output, goals pre-empt).

The chunks carry every field at its edges (lip_policy.testing.fuzzed_audio); most of them
arrive while a goal speaks (so the valid ones are dropped, as documented), the last
thousand while the node is idle (so the valid ones are played). The goals mix odd and huge
texts, unknown languages and voices, text that looks like shell or Scheme, audio paths
that are missing, a directory, empty or corrupt, raw samples with NaN, huge values, wrong
channel counts and rates from 0 to 2**32 - 1, and several sources at once.

Afterwards the node is still running, every accepted goal has ended with a status, every
chunk it published on /audio is well formed, finite and at most full scale, its
diagnostics count the chunks it heard, and a clean goal is still spoken.
"""

import threading

import numpy as np
import pytest
import soundfile

from face_common.graphs import node, start
from face_common.qos import AUDIO_DEPTH
from face_common.waiting import wait_until
from lip_policy.testing.fuzzed_audio import SPECIAL, random_chunks

pytestmark = [pytest.mark.ros, pytest.mark.realtime]
CHUNKS = 10_000
IDLE_CHUNKS = 1_000        # of CHUNKS, sent while no goal speaks
GOALS = 300
BURST = AUDIO_DEPTH // 2    # chunks published between waits for the node to hear them
TIMEOUT = 120.0            # [s] longest wait for any one event (a loaded 2-core machine)
SHORT = {0: .1, 1: .1, 160: .3, 320: .3, 882: .2}   # chunk lengths [samples]: probability
STATUS_SUCCEEDED = 4
TERMINAL = (4, 5, 6)       # succeeded, canceled, aborted
TEXTS = ['', ' ', 'Hello.', '...', '?!', 'ünïcødé ☃ 日本語 عربى', 'a' * 5000, '\x00\x01\x7f',
         'He said "(quote) \\ back\\slash" (SayText "x")', '$(touch /tmp/pwned); `id`',
         '-- --help -v', 'word ' * 600, '\n\n\t\n', 'Mr. Dr. St. e.g. 3.14 ... ?', '%s %n {}']
LANGUAGES = ['', 'en', 'de', 'xx', '../../etc/passwd', 'a' * 300, 'en-US', '\x00', '-s 9999']
VOICES = ['', 'en', 'nonexistent', '-s 9999', 'a' * 300, 'kal_diphone', '../x']
RATES = [0, 1, 3999, 8000, 16000, 48000, 384001, 2**32 - 1]


def fuzzed_goals(rng, files, count):
    from face_msgs.action import Say

    for _ in range(count):
        goal = Say.Goal()
        sources = rng.choice(['text', 'file', 'samples', 'two', 'none'],
                             p=[.45, .2, .25, .05, .05])
        if sources in ('text', 'two'):
            goal.text = str(rng.choice(TEXTS))
            goal.language = str(rng.choice(LANGUAGES))
            goal.voice = str(rng.choice(VOICES))
        if sources in ('file', 'two'):
            goal.audio_path = str(rng.choice(files))
        if sources in ('samples', 'two'):
            length = int(rng.choice([0, 1, 3, 160, 16000]))
            samples = rng.normal(0, 0.3, length)
            if length and rng.random() < 0.4:
                samples[rng.integers(0, length, 2)] = rng.choice(SPECIAL, 2)
            goal.samples = samples.astype(np.float32).tolist()
            goal.sample_rate = int(rng.choice(RATES))
            goal.channels = int(rng.choice([0, 1, 2, 3, 255]))
        yield goal


class Client:
    """The test's node: the Say client, the audio_in publisher, /audio and /diagnostics."""

    def __init__(self, context):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.action import ActionClient
        from rclpy.executors import MultiThreadedExecutor

        from face_common.qos import audio_qos
        from face_msgs.action import Say
        from face_msgs.msg import AudioChunk

        self.node = rclpy.create_node('speech_fuzzer', context=context)
        self.say = ActionClient(self.node, Say, 'speech/say')
        self.audio_in = self.node.create_publisher(AudioChunk, 'speech/audio_in', audio_qos())
        self.audio, self.health = [], {}
        self.sent = 0  # chunks published on speech/audio_in
        self.node.create_subscription(AudioChunk, 'audio', self.audio.append, audio_qos())
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.executor = MultiThreadedExecutor(num_threads=2, context=context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name == 'face_speech: output':
                self.health = {v.key: v.value for v in status.values}

    def publish(self, chunks):
        """Publish chunks on speech/audio_in no faster than the node hears them: after each
        half of its reliable history, wait until its diagnostics count what was sent before
        that half, so a fast sender cannot overwrite chunks the node has not taken yet."""
        for k, msg in enumerate(chunks, 1):
            self.audio_in.publish(msg)
            self.sent += 1
            if k % BURST == 0:
                wait_until(lambda: self.count('audio_in_chunks') >= self.sent - BURST, TIMEOUT,
                           lambda: f'speech_node to hear {self.sent - BURST} chunks; '
                           f'{self.health}')

    def count(self, key):
        return int(self.health.get(key, 0))

    def send(self, goal):
        """-> the goal handle (None when rejected)."""
        future = self.say.send_goal_async(goal)
        wait_until(future.done, TIMEOUT, 'the goal response')
        handle = future.result()
        return handle if handle.accepted else None

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


def audio_files(folder):
    """Paths a goal might name: missing, a directory, empty, corrupt, odd, and one good."""
    rate = 16000
    good = folder / 'good.wav'
    t = np.arange(rate // 5) / rate
    soundfile.write(good, 0.3 * np.sin(2 * np.pi * 220 * t), rate)
    corrupt = folder / 'corrupt.wav'
    corrupt.write_bytes(good.read_bytes()[:60] + b'\xff' * 200)
    truncated = folder / 'truncated.wav'
    truncated.write_bytes(good.read_bytes()[:30])
    empty = folder / 'empty.wav'
    empty.write_bytes(b'')
    loud = folder / 'loud.wav'
    soundfile.write(loud, np.full(rate // 10, 1e6, np.float32), rate, subtype='FLOAT')
    return [str(p) for p in (good, corrupt, truncated, empty, loud, folder)] + [
        '/nonexistent/x.wav', 'relative.wav', '/dev/null', 'a' * 5000, '\x00']


def assert_well_formed(chunks):
    from face_msgs.checks import check_audio_chunk

    for msg in chunks:
        check_audio_chunk(msg)
        samples = np.asarray(msg.samples_float32, np.float32)
        assert np.abs(samples).max(initial=0) <= 1.0, \
            f'/audio chunk {msg.sequence} beyond full scale: {np.abs(samples).max()}'


def test_no_fuzzed_chunk_or_goal_stops_the_speech_node(tmp_path):
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    speech = start(node('speech_node', {'scheduling': 'normal', 'output': 'null',
                                        'on_new_goal': 'preempt', 'diagnostics_rate': 5.0},
                        params_file=False))
    client = Client(context)
    rng = np.random.default_rng(11)
    try:
        assert client.say.wait_for_server(timeout_sec=TIMEOUT), 'speech/say'
        wait_until(lambda: client.audio_in.get_subscription_count() > 0, TIMEOUT,
                   'speech/audio_in')
        first = client.send(_goal(text='This sentence keeps the node speaking. ' * 20))
        wait_until(lambda: client.audio, TIMEOUT, 'the first /audio chunk')
        client.publish(random_chunks(CHUNKS - IDLE_CHUNKS, seed=3, lengths=SHORT))
        # Each goal pre-empts the one before, which must then end; results are asked for
        # a goal at a time (the action server's result service keeps a short history).
        futures, goals = [first.get_result_async()], [None]
        for goal in fuzzed_goals(rng, audio_files(tmp_path), GOALS):
            handle = client.send(goal)
            if handle is None:
                continue
            goals.append(goal)
            wait_until(futures[-1].done, TIMEOUT, lambda: (
                f'a pre-empted goal to end; {client.health}; the node said:\n'
                f'{speech.output()[-3000:]}'))
            futures.append(handle.get_result_async())
        handle.cancel_goal_async()
        wait_until(futures[-1].done, TIMEOUT, 'the last goal to end after its cancel')
        speech.check_running()
        statuses = [f.result().status for f in futures]
        assert set(statuses) <= set(TERMINAL), statuses
        aborted = [(f.result().result, g) for f, g in zip(futures, goals)
                   if f.result().status == 6]
        unexplained = [(r, _shown(g)) for r, g in aborted if not r.message]
        assert aborted and not unexplained, f'aborted goals must say why: {unexplained}'
        assert 'Error raised in execute callback' not in speech.output(), \
            speech.output()[-3000:]
        print(f'{len(futures)} goals; statuses {np.unique(statuses, return_counts=True)}')

        wait_until(lambda: client.health.get('speaking') == 'False', TIMEOUT,
                   'the node to be idle')
        client.publish(random_chunks(IDLE_CHUNKS, seed=4, lengths=SHORT))
        heard = []
        wait_until(lambda: (heard.append(client.count('audio_in_chunks')) or len(heard) > 500
                            and heard[-1] == heard[-500]), TIMEOUT,
                   'the audio_in chunks to settle (the count unchanged for 5 s)', interval=0.01)
        print(f'{CHUNKS} chunks sent; {client.health}')
        # Sent no faster than heard (Client.publish): the node heard every chunk.
        assert client.count('audio_in_chunks') == CHUNKS, client.health
        assert client.count('audio_in_rejected') >= 0.3 * client.count('audio_in_chunks')
        assert client.count('audio_in_dropped') > 0, 'valid chunks during a goal are dropped'
        speech.check_running()

        before = len(client.audio)
        handle = client.send(_goal(text='Still here.'))
        future = handle.get_result_async()
        wait_until(future.done, TIMEOUT, 'the clean goal to end')
        assert future.result().status == STATUS_SUCCEEDED, future.result().result.message
        assert future.result().result.sentences_played == 1
        assert len(client.audio) > before, 'the clean goal published no audio'
        assert_well_formed(list(client.audio))
        speech.check_running()
        assert 'Traceback' not in speech.output(), speech.output()[-3000:]
    finally:
        client.close()
        speech.close()
        rclpy.try_shutdown(context=context)


def _shown(goal):
    return {k: (v[:40] if isinstance(v, str) else f'{len(v)} values') for k, v in (
        ('text', goal.text), ('language', goal.language), ('voice', goal.voice),
        ('audio_path', goal.audio_path), ('samples', goal.samples))} | {
        'sample_rate': goal.sample_rate, 'channels': goal.channels}


def _goal(**fields):
    from face_msgs.action import Say

    return Say.Goal(**fields)
