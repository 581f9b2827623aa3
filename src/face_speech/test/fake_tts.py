"""A stand-in TTS program for the tests: fake_tts.py --out WAV --voice V TEXT.

It writes 0.3 s of a tone per word at 16 kHz, except for the words that make it misbehave:
"fail" (exit 3 with a message), "hang" (sleeps for a minute), "silent" (exit 0, no file).
"""

import argparse
import array
import math
import sys
import time
import wave

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
# The standard library only: a loaded machine must start this well inside the test's timeout.
samples = array.array('h', (round(0.3 * 32767 * math.sin(2 * math.pi * 220 * k / 16000))
                            for k in range(int(0.3 * 16000 * len(words)))))
with wave.open(args.out, 'wb') as out:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(16000)
    out.writeframes(samples.tobytes())
