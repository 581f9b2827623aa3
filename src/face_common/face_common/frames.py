"""The lip frame: the time step of the lip model, the lip policy and every lip evaluation.

The lip model hears 16 kHz mono audio and gives one lip pose per hop of 160 samples, so a
lip frame is 10 ms; landmark sequences, commanded poses and sync measurements are all on
this grid.
"""

SAMPLE_RATE = 16000  # [Hz] the lip model's audio rate
HOP = 160  # [samples] audio per lip frame
FRAME_PERIOD = HOP / SAMPLE_RATE  # [s] one lip frame (10 ms)
FRAME_RATE = SAMPLE_RATE // HOP  # [Hz] lip frames per second (100)
