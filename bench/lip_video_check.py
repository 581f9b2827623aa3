"""The video path against the teacher: render teacher clips with face_sim, read them back.

    .venv/bin/python bench/lip_video_check.py --corpus build/lip_corpus [--clips 6]

Each clip's teacher lips drive face_sim's renderer (25 fps, espeak audio muxed in), the MP4
goes through `lip-corpus video` (OpenCV + FaceObserver + 100 Hz resampling), and the
extracted lips are compared with the teacher's: lip error after removing the constant
rendering bias [mouth widths], mouth-opening correlation, sync offset [ms]. Last line: one
JSON object with the means and worst cases and `machine` (bench/machine.py: CPU model, load
before the run, a reference workload timed in the same run; printed first too).
"""

import argparse
import json
import pathlib
import tempfile

import numpy as np
from machine import machine_report  # bench/ is on sys.path when run as a script

from face_bringup.testing import teacher_video
from lip_policy import corpus, video_corpus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--corpus', required=True, help='a synthetic corpus directory')
    parser.add_argument('--clips', type=int, default=6)
    args = parser.parse_args()
    machine = machine_report()  # before the run: the load others put on the machine
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms', flush=True)
    entries = corpus.read_manifest(args.corpus)
    step = max(1, len(entries) // args.clips)
    chosen = entries[::step][:args.clips]
    renderer = teacher_video.teacher_renderer()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for entry in chosen:
            clip = corpus.load_clip(args.corpus, entry)
            path = tmp / f'{clip.id}.mp4'
            teacher_video.render_clip(path, clip.audio, clip.lips, renderer=renderer)
            video_corpus.build([path], tmp / 'corpus', language=entry['language'],
                               progress=False)
            seen = corpus.load_clip(tmp / 'corpus', {'id': f'video_{clip.id}'})
            frames = min(len(seen.lips), len(clip.lips))
            match = teacher_video.compare(seen.lips[:frames], seen.valid[:frames],
                                          clip.lips[:frames])
            match['clip'] = clip.id
            print(json.dumps(match))
            results.append(match)
    print(json.dumps({
        'clips': len(results),
        'lip_error_mean': float(np.mean([r['lip_error'] for r in results])),
        'lip_error_max': float(np.max([r['lip_error'] for r in results])),
        'mouth_open_pcc_mean': float(np.mean([r['mouth_open_pcc'] for r in results])),
        'mouth_open_pcc_min': float(np.min([r['mouth_open_pcc'] for r in results])),
        'sync_offset_ms_max_abs': float(np.max([abs(r['sync_offset_ms']) for r in results])),
        'machine': machine,
    }))


if __name__ == '__main__':
    main()
