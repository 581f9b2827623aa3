"""How the lip policy is keeping up, as /diagnostics reports it (no rclpy).

PolicyHealth.report() turns the policy's counters (LipPolicy.counts), its compute times and
the worker's backlog into one status: a level, a one-line message and key/value figures.
Totals are since start; the level judges what happened since the previous report, so a
problem shows for as long as it lasts and clears when it is over.

    ERROR  audio was lost (its playback time passed before it arrived), or the backlog of
           audio waiting for the worker is longer than BACKLOG_ERROR: the lips are wrong
    WARN   chunks came late or twice, were rejected, the policy hurried (skipped the
           refinement to catch up), a backlog of more than BACKLOG_WARN, or the compute per
           10 ms frame (p99) is over the budget: the lips are right but the margin is thin
    OK     otherwise
"""

import dataclasses

import numpy as np

OK, WARN, ERROR = 0, 1, 2  # as diagnostic_msgs/DiagnosticStatus levels
BACKLOG_WARN = 0.1  # [s] of audio waiting for the worker
BACKLOG_ERROR = 0.5  # [s]


@dataclasses.dataclass
class Report:
    level: int
    message: str
    values: dict  # name -> number, for the key/value list


class PolicyHealth:
    def __init__(self, hop_budget):
        self.hop_budget = hop_budget  # [s] compute per 10 ms frame that is still fine
        self.previous = {}

    def report(self, counts, compute_seconds, hurried_seconds, backlog_chunks,
               backlog_seconds):
        """counts: LipPolicy.counts; compute_seconds, hurried_seconds: recent per-frame
        compute [s] with and without refinement; backlog: audio not yet pushed through."""
        recent = {k: counts[k] - self.previous.get(k, 0) for k in counts}
        self.previous = dict(counts)
        everything = list(compute_seconds) + list(hurried_seconds)
        p50, p99 = (np.percentile(everything, [50, 99]) * 1000 if everything
                    else (float('nan'), float('nan')))
        values = {
            'chunks_received': counts['chunks'],
            'chunks_lost': counts['lost_chunks'],
            'audio_lost_ms': round(counts['lost_seconds'] * 1000, 1),
            'chunks_late': counts['late'],
            'chunks_duplicate': counts['duplicates'],
            'chunks_rejected': counts['rejected'],
            'backlog_chunks': backlog_chunks,
            'backlog_ms': round(backlog_seconds * 1000, 1),
            'hop_compute_p50_ms': round(float(p50), 3),
            'hop_compute_p99_ms': round(float(p99), 3),
            'hurried_frames': counts['hurried_frames'],
            'streams': counts['segments'],
        }
        problems, level = [], OK
        if recent['lost_chunks'] or backlog_seconds > BACKLOG_ERROR:
            level = ERROR
            if recent['lost_chunks']:
                problems.append(f'{recent["lost_chunks"]} audio chunks lost')
            if backlog_seconds > BACKLOG_ERROR:
                problems.append(f'{backlog_seconds * 1000:.0f} ms of audio waiting: the policy '
                                'cannot keep up')
        warnings = [(recent['late'], 'late chunks dropped'),
                    (recent['duplicates'], 'duplicate chunks dropped'),
                    (recent['rejected'], 'bad chunks rejected'),
                    (recent['hurried_frames'], 'frames hurried (refinement skipped)')]
        for count, what in warnings:
            if count:
                problems.append(f'{count} {what}')
        if BACKLOG_WARN < backlog_seconds <= BACKLOG_ERROR:
            problems.append(f'{backlog_seconds * 1000:.0f} ms of audio waiting')
        if p99 > self.hop_budget * 1000:
            problems.append(f'compute per 10 ms frame p99 {p99:.1f} ms is over the '
                            f'{self.hop_budget * 1000:.1f} ms budget')
        if problems and level == OK:
            level = WARN
        message = '; '.join(problems) if problems else 'keeping up with the audio'
        return Report(level, message, values)
