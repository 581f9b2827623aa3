"""Cost of the lip model on one core: streaming per 10 ms hop, and whole clips.

    .venv/bin/python bench/lip_stream.py [--model models/lip_model.pt] [--seconds 20]

Streams espeak speech through LipStream in 10 ms chunks (the policy node's pattern) and
times every push, in wall time and in this thread's CPU time (hop_cpu_ms_*: what the push
itself costs, which others' work on the machine does not add to, only slows); then times
whole-clip prediction. Prints `machine` first (bench/machine.py: CPU model, load before the
run, a reference workload timed in the same run, so figures compare across machines as a
ratio to reference_ms). Last line: one JSON object with per-hop median/p99 [ms], streaming
and whole-clip real-time factors, the model's algorithmic latency (look-ahead + one hop)
[ms] and the machine.
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np
from machine import machine_report  # bench/ is on sys.path when run as a script

from lip_policy import synth
from lip_policy.espeak import Speaker
from lip_policy.predictor import LipPredictor, limit_math_threads

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default=str(ROOT / 'models' / 'lip_model.pt'))
    parser.add_argument('--seconds', type=float, default=20.0, help='speech to stream [s]')
    args = parser.parse_args()
    machine = machine_report()  # before the run: the load others put on the machine
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms', file=sys.stderr)
    limit_math_threads(1)
    predictor = LipPredictor.load(args.model)
    speaker = Speaker()
    text = ' '.join(['people move boots while we speak of many small things'] * 8)
    said = speaker.say(text, 'en', rate=170)
    audio = synth.to_corpus_rate(said.audio, said.sample_rate)
    audio = np.tile(audio, int(np.ceil(args.seconds * 16000 / len(audio))))
    audio = audio[:int(args.seconds * 16000)]
    predictor.predict(audio[:16000])  # warm-up
    stream = predictor.stream()
    hop_ms, hop_cpu_ms = [], []
    for start in range(0, len(audio), 160):
        began, began_cpu = time.perf_counter(), time.thread_time()
        stream.push(audio[start:start + 160])
        hop_cpu_ms.append((time.thread_time() - began_cpu) * 1000)
        hop_ms.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    predictor.predict(audio)
    whole = time.perf_counter() - began
    hop_ms, hop_cpu_ms = np.array(hop_ms), np.array(hop_cpu_ms)
    print(json.dumps({
        'audio_seconds': len(audio) / 16000,
        'hop_ms_median': float(np.median(hop_ms)),
        'hop_ms_p99': float(np.percentile(hop_ms, 99)),
        'hop_cpu_ms_median': float(np.median(hop_cpu_ms)),
        'hop_cpu_ms_p99': float(np.percentile(hop_cpu_ms, 99)),
        'streaming_realtime_factor': float(10.0 / np.mean(hop_ms)),
        'whole_clip_realtime_factor': float(len(audio) / 16000 / whole),
        'algorithmic_latency_ms': predictor.latency * 1000,
        'machine': machine,
    }))


if __name__ == '__main__':
    main()
