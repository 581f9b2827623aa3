"""CPU scheduling of node processes (face_common.scheduling), in child processes so
the test run itself keeps its priority."""

import json
import os
import subprocess
import sys

import pytest

from face_common import scheduling

CHILD = '''
import json, os, subprocess, sys, threading
from face_common import scheduling
stop = threading.Event()
worker = threading.Thread(target=stop.wait)  # a thread that exists before apply()
worker.start()
# a child that lives until killed (or its stdin closes); it exists once Popen returns
child = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'],
                         stdin=subprocess.PIPE)
line = scheduling.apply(sys.argv[1], 12)
later = threading.Thread(target=lambda: out.update(later=os.sched_getscheduler(0)))
out = {'line': line,
       'threads': [os.sched_getscheduler(int(t)) for t in os.listdir('/proc/self/task')],
       'child': os.sched_getscheduler(child.pid),
       'nice': [os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir('/proc/self/task')],
       'rr': os.SCHED_RR}
later.start(); later.join()
child.kill(); stop.set(); worker.join()
print(json.dumps(out))
'''


def _run(kind):
    done = subprocess.run([sys.executable, '-c', CHILD, kind], capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_realtime_covers_every_thread_and_child_or_says_what_it_did_instead():
    out = _run('realtime')
    if out['line'].startswith('scheduling: real-time'):
        assert set(out['threads']) == {out['rr']}, out
        assert out['child'] == out['rr'], 'the bus emulator runs with the driver'
        assert out['later'] == out['rr'], 'threads started later inherit it'
    elif out['line'].startswith(f'scheduling: nice {scheduling.NICE_FALLBACK}'):
        assert set(out['nice']) == {scheduling.NICE_FALLBACK}, out
    else:
        assert 'neither real-time nor a negative nice value is permitted' in out['line']


def test_normal_changes_nothing_and_unknown_kinds_are_refused():
    out = _run('normal')
    assert out['line'] == 'scheduling: normal (as started)'
    assert out['rr'] not in out['threads'] and out['later'] != out['rr']
    with pytest.raises(ValueError, match='realtime, normal'):
        scheduling.apply('fifo')


NICENESS = '''
import json, os
from face_common import scheduling
before = os.getpriority(os.PRIO_PROCESS, 0)
with scheduling.niceness(scheduling.INSTRUMENT_NICE):
    inside = os.getpriority(os.PRIO_PROCESS, 0)
print(json.dumps({'before': before, 'inside': inside,
                  'after': os.getpriority(os.PRIO_PROCESS, 0)}))
'''


def test_niceness_holds_for_the_block_and_is_undone_after():
    done = subprocess.run([sys.executable, '-c', NICENESS], capture_output=True, text=True,
                          timeout=60, check=True)
    nice = json.loads(done.stdout.strip().splitlines()[-1])
    assert nice['after'] == nice['before']
    if os.geteuid() == 0:   # root may lower its niceness
        assert nice['inside'] == scheduling.INSTRUMENT_NICE
    else:                   # elsewhere only with CAP_SYS_NICE; left alone otherwise
        assert nice['inside'] in (scheduling.INSTRUMENT_NICE, nice['before'])
