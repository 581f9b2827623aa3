"""Benchmark of lip_policy_node: audio chunks published over DDS -> lip commands received.

Speech from espeak-ng (22050 Hz, so the resampler works too) is published in real time as
face_msgs/AudioChunk, one chunk every --chunk-ms, to a lip_policy_node process; this process
receives face/lip_command. The latency of a chunk is the time from its publication to the
arrival of the first lip command the node computed after that moment: the node publishes
one as soon as a chunk is processed. Its timed commands (command_rate) would be mistaken for
answers when computed while a chunk is in transit, so the bench runs the node with
--command-rate 1 Hz by default; pass --command-rate 100 to see the default rate's traffic.
to_command_stamp_ms_p50 and command_back_ms_p50 split the median latency at the answering
command's header stamp, which the node takes as it publishes: the chunk's way in over DDS,
the node's hand-over to its worker, the compute and the message, against the command's
way back (one machine, one system clock).
hop_compute_ms_median is the node's own median compute per 10 ms lip frame (model +
retargeting), printed by the node at shutdown (wall time, so others' work on the machine
inflates it); hurried_frames the frames the node pushed through without the inverse
refinement because it was behind. policy_cpu_percent is the node process's CPU time (all
its threads, /proc/<pid>/stat) from the first chunk to a second after the last, per second
of audio played x 100: what the policy costs one core, which others' work only inflates by
what it slows.

Every run prints and reports `machine` first (bench/machine.py: CPU model, cores, load
before the run and a reference workload timed in the same run), so a figure can be compared
across machines and runs as a ratio to reference_ms. The node runs in a random ROS domain,
so other graphs on the machine do not reach it.

Models: --lip-model, --self-model, --retarget, by default models/lip_model.pt,
models/self_model_sim.pt and models/retarget.npz; when the self-model or retargeting is
missing, small real ones are built under build/bench/ (lip_policy.testing.small_models).

Targets: latency p99 <= 10 ms, compute per hop <= 2 ms. A histogram goes to
build/bench/policy_latency.png; the last line printed is one JSON object.

Usage: .venv/bin/python bench/policy_latency.py [--seconds 10] [--chunk-ms 20]
"""

import argparse
import contextlib
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from machine import machine_report  # bench/ is on sys.path when run as a script

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / 'build' / 'bench'


def resolve_models(args):
    """(lip_model, self_model, retarget, description); each file given on the command line,
    else the workspace's, else a small one."""
    names = ('lip_model.pt', 'self_model_sim.pt', 'retarget.npz')
    given = (args.lip_model, args.self_model, args.retarget)
    chosen = [pathlib.Path(g) if g else ROOT / 'models' / n for g, n in zip(given, names)]
    if all(p.exists() for p in chosen):
        return (*chosen, ', '.join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT)
                                   else str(p) for p in chosen))
    from lip_policy.testing.small_models import build_small_models

    print('some models are missing: building small ones (about 20 s)', file=sys.stderr)
    small = build_small_models(OUT / 'policy_small_models')
    lip = chosen[0] if chosen[0].exists() else small.lip_model
    return lip, small.self_model, small.retarget, \
        f'{lip.name} + small self-model and retargeting (build/bench)'


def start_policy(models, command_rate, refine_steps):
    log = tempfile.TemporaryFile(mode='w+')
    from face_common.graphs import command as node_command
    from face_common.graphs import graph

    parameters = {'lip_model': models[0], 'self_model': models[1], 'retarget': models[2],
                  'command_rate': command_rate}
    if refine_steps is not None:
        parameters['inverse_refine_steps'] = refine_steps
    spec, = graph('policy', parameters=parameters)
    command = node_command(spec, ROOT / 'config')
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True), log


def stop(process, log):
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log.flush()
    log.seek(0)
    return log.read()


def cpu_seconds(pid):
    """CPU time [s] a process has used so far (user + system, all its threads)."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def chunks_of(clip, chunk_seconds, total_seconds):
    """The clip (repeated with 0.3 s pauses) cut into mono chunks for total_seconds."""
    pause = np.zeros(int(0.3 * clip.sample_rate), np.float32)
    one = np.concatenate([clip.samples[:, 0], pause])
    audio = np.tile(one, int(np.ceil(total_seconds * clip.sample_rate / len(one))))
    size = int(round(chunk_seconds * clip.sample_rate))
    count = int(total_seconds / chunk_seconds)
    return [audio[k * size:(k + 1) * size] for k in range(count)]


def run(args, models):
    """Stream the audio to a lip_policy_node; (send times, [(arrival, compute stamp)], the
    node's output, sample rate, node CPU seconds while streaming)."""
    import array

    # A random domain, not the pid: pids repeat across containers sharing a loopback.
    os.environ.setdefault('ROS_DOMAIN_ID', str(int.from_bytes(os.urandom(2), 'little') % 100 + 1))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from face_common.qos import audio_qos
    from face_msgs.msg import AudioChunk, FaceCommand
    from lip_policy.audio_clip import speak

    clip = speak(args.text)
    chunk_seconds = args.chunk_ms / 1000
    chunks = chunks_of(clip, chunk_seconds, args.seconds)
    received = []  # (arrival time, compute stamp) [s, system clock]
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('policy_latency_bench', context=context)
    node.create_subscription(
        FaceCommand, 'face/lip_command',
        lambda m: received.append((time.time(), m.header.stamp.sec + m.header.stamp.nanosec
                                   * 1e-9)),
        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    publisher = node.create_publisher(AudioChunk, 'audio', audio_qos())
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinning = True

    def spin():
        while spinning:
            executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin, daemon=True)
    policy, log = start_policy(models, args.command_rate, args.refine_steps)
    sent = []
    try:
        deadline = time.monotonic() + 60
        while publisher.get_subscription_count() == 0 or node.count_publishers(
                'face/lip_command') == 0:
            if policy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('lip_policy_node did not come up:\n' + stop(policy, log))
            executor.spin_once(timeout_sec=0.1)
        thread.start()
        time.sleep(1.0)
        start = time.time() + 0.1
        cpu_start = cpu_seconds(policy.pid)
        from tqdm import tqdm

        for k, samples in enumerate(tqdm(chunks, desc='audio chunks', file=sys.stderr,
                                         mininterval=1.0)):
            time.sleep(max(0.0, start + k * chunk_seconds - time.time()))
            msg = AudioChunk()
            msg.sample_rate, msg.channels, msg.sequence = clip.sample_rate, 1, k
            msg.encoding = AudioChunk.ENCODING_FLOAT32
            msg.samples_float32 = array.array('f', samples.astype(np.float32).tobytes())
            t_send = time.time()
            play = t_send + args.lookahead
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(play), int(play % 1 * 1e9)
            publisher.publish(msg)
            sent.append(t_send)
        time.sleep(1.0)
        cpu = cpu_seconds(policy.pid) - cpu_start
    finally:
        spinning = False
        if thread.is_alive():
            thread.join()
        output = stop(policy, log)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    return np.array(sent), received, output, clip.sample_rate, cpu


def latencies(sent, received):
    """Per sent chunk: (ms to the first command computed after it, of which ms until the node
    stamped that command, i.e. DDS in, the node's queue, compute and message; NaN if no
    command came before the next chunk was sent). The rest is the command's way back."""
    arrivals = np.array([r[0] for r in received])
    stamps = np.array([r[1] for r in received])
    total, to_stamp = [], []
    for k, t in enumerate(sent):
        later = np.nonzero(stamps >= t)[0]
        limit = sent[k + 1] if k + 1 < len(sent) else np.inf
        if len(later) and stamps[later[0]] < limit:
            total.append(1000 * (arrivals[later[0]] - t))
            to_stamp.append(1000 * (stamps[later[0]] - t))
        else:
            total.append(np.nan)
            to_stamp.append(np.nan)
    return np.array(total), np.array(to_stamp)


def plot(latency, path):
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(latency[np.isfinite(latency)], bins=60)
    ax.axvline(10.0, color='red', ls='--', label='target p99 10 ms')
    ax.set_xlabel('audio chunk published -> lip command received [ms]')
    ax.set_ylabel('chunks')
    ax.set_title('lip_policy_node latency over DDS')
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=10.0, help='audio streamed [s]')
    parser.add_argument('--chunk-ms', type=float, default=20.0, help='chunk length [ms]')
    parser.add_argument('--lookahead', type=float, default=0.0,
                        help='chunks are stamped this far ahead of sending [s]')
    parser.add_argument('--text', default='Bob, my baby, would you bump the map by the wall? '
                        'We were all wondering where the weather would go.')
    parser.add_argument('--command-rate', type=float, default=1.0,
                        help="the node's timed command rate [Hz]; low by default so that "
                        'every command received answers one chunk')
    parser.add_argument('--refine-steps', type=int, default=None,
                        help="the node's inverse_refine_steps (default: its own)")
    parser.add_argument('--lip-model', default='', help='default models/lip_model.pt')
    parser.add_argument('--self-model', default='', help='default models/self_model_sim.pt')
    parser.add_argument('--retarget', default='', help='default models/retarget.npz')
    args = parser.parse_args(argv)
    if args.seconds <= 0 or not 1 <= args.chunk_ms <= 500:
        parser.error('--seconds must be > 0 and --chunk-ms within 1..500')
    machine = machine_report()  # before the run: the load others put on the machine
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms', file=sys.stderr)
    models = resolve_models(args)
    sent, received, output, rate, cpu = run(args, models)
    latency, to_stamp = latencies(sent, received)
    answered = latency[np.isfinite(latency)]
    in_node = to_stamp[np.isfinite(to_stamp)]
    back = answered - in_node
    match = re.search(r'([0-9.]+) ms per 10 ms frame', output)
    hop_ms = float(match.group(1)) if match else float('nan')
    match = re.search(r'([0-9]+) frames hurried', output)
    hurried = int(match.group(1)) if match else None
    cpu_percent = 100 * cpu / (len(sent) * args.chunk_ms / 1000)
    plot(latency, OUT / 'policy_latency.png')
    p50, p99 = (float(np.percentile(answered, q)) if len(answered) else float('nan')
                for q in (50, 99))
    duration = received[-1][0] - received[0][0] if len(received) > 1 else float('nan')
    split = {name: round(float(np.percentile(x, 50)), 3) if len(x) else None
             for name, x in (('to_command_stamp_ms_p50', in_node), ('command_back_ms_p50', back))}
    print(f'{len(answered)}/{len(sent)} chunks answered; latency p50 {p50:.2f} ms, p99 '
          f'{p99:.2f} ms (median {split["to_command_stamp_ms_p50"]} ms until the node stamped '
          f'its command, {split["command_back_ms_p50"]} ms back); compute {hop_ms:.3f} ms per '
          f'10 ms hop; node CPU {cpu_percent:.1f} % of a core per second of audio',
          file=sys.stderr)
    print(json.dumps({
        'latency_ms_p50': round(p50, 3), 'latency_ms_p99': round(p99, 3),
        'latency_ms_max': round(float(answered.max()), 3) if len(answered) else None,
        **split,
        'hop_compute_ms_median': round(hop_ms, 4), 'hurried_frames': hurried,
        'policy_cpu_percent': round(cpu_percent, 1),
        'chunks_sent': len(sent), 'chunks_answered': int(len(answered)),
        'commands_received': len(received),
        'command_rate_hz': round(len(received) / duration, 1) if duration > 0 else None,
        'node_command_rate_hz': args.command_rate, 'refine_steps': args.refine_steps,
        'chunk_ms': args.chunk_ms,
        'sample_rate': rate, 'lookahead_s': args.lookahead,
        'models': models[3], 'load_average_1min': round(os.getloadavg()[0], 2),
        'target_p99_ms': 10.0, 'target_hop_ms': 2.0,
        'meets_targets': bool(p99 <= 10.0 and hop_ms <= 2.0),
        'machine': machine,
    }))
    return 0


if __name__ == '__main__':
    sys.exit(main())
