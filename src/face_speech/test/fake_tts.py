"""A stand-in TTS program for the tests: fake_tts.py --out WAV --voice V TEXT.

It writes 0.3 s of a tone per word at 16 kHz, except for the words that make it misbehave:
"fail" (exit 3 with a message), "hang" (sleeps for a minute), "silent" (exit 0, no file).
"""

import argparse
import sys
import time

import numpy as np
import soundfile

parser = argparse.ArgumentParser()
parser.add_argument('--out', required=True)
parser.add_argument('--voice', default='')
parser.add_argument('text')
args = parser.parse_args()
words = args.text.lower().split()
if 'fail' in words:
    print('fake_tts: no such voice, cannot speak', file=sys.stderr)
    sys.exit(3)
if 'hang' in words:
    time.sleep(60)
if 'silent' in words:
    sys.exit(0)
t = np.arange(int(0.3 * 16000 * len(words))) / 16000
soundfile.write(args.out, 0.3 * np.sin(2 * np.pi * 220 * t), 16000)
