"""Cost of the lip model on one core: streaming per 10 ms hop, and whole clips.

    .venv/bin/python bench/lip_stream.py [--model models/lip_model.pt] [--seconds 20]

Streams espeak speech through LipStream in 10 ms chunks (the policy node's pattern) and
times every push; then times whole-clip prediction. Last line: one JSON object with
per-hop median/p99 [ms], streaming and whole-clip real-time factors, and the model's
algorithmic latency (look-ahead + one hop) [ms].
"""

import argparse
import json
import pathlib
import time

import numpy as np
import torch

from lip_policy import synth
from lip_policy.espeak import Speaker
from lip_policy.predictor import LipPredictor

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default=str(ROOT / 'models' / 'lip_model.pt'))
    parser.add_argument('--seconds', type=float, default=20.0, help='speech to stream [s]')
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = LipPredictor.load(args.model)
    speaker = Speaker()
    text = ' '.join(['people move boots while we speak of many small things'] * 8)
    said = speaker.say(text, 'en', rate=170)
    audio = synth._to_corpus_rate(said.audio, said.sample_rate)
    audio = np.tile(audio, int(np.ceil(args.seconds * 16000 / len(audio))))
    audio = audio[:int(args.seconds * 16000)]
    predictor.predict(audio[:16000])  # warm-up
    stream = predictor.stream()
    hop_ms = []
    for start in range(0, len(audio), 160):
        began = time.perf_counter()
        stream.push(audio[start:start + 160])
        hop_ms.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    predictor.predict(audio)
    whole = time.perf_counter() - began
    hop_ms = np.array(hop_ms)
    print(json.dumps({
        'audio_seconds': len(audio) / 16000,
        'hop_ms_median': float(np.median(hop_ms)),
        'hop_ms_p99': float(np.percentile(hop_ms, 99)),
        'streaming_realtime_factor': float(10.0 / np.mean(hop_ms)),
        'whole_clip_realtime_factor': float(len(audio) / 16000 / whole),
        'algorithmic_latency_ms': predictor.latency * 1000,
    }))


if __name__ == '__main__':
    main()
