"""Talking-head videos -> lip corpus clips (lip-corpus video).

Any file OpenCV can decode that has an audio track: the audio becomes 16 kHz mono (through
the ffmpeg binary of imageio-ffmpeg), every video frame goes through the mirror stage's
FaceObserver (MediaPipe face mesh, head pose removed, face-size normalised), and the lip
points are resampled from the video's frame times to the corpus's 100 Hz by linear
interpolation between neighbouring frames. A 100 Hz frame whose neighbouring video frames
are not both faces is marked invalid (valid False, NaN lips). Files that cannot be read,
have no audio or show no face at all are reported and skipped; the others are kept.
"""

import pathlib
import subprocess

import numpy as np

from face_common.frames import FRAME_RATE, HOP, SAMPLE_RATE
from lip_policy import corpus


class VideoFileError(ValueError):
    """One video cannot become a clip; the message says why."""


def read_audio(path):
    """The audio track of a media file as 16 kHz mono float32."""
    import imageio_ffmpeg

    # `ffmpeg -i` alone lists the streams (and exits non-zero: it has no output to write).
    streams = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-i', str(path)],
                             capture_output=True, check=False).stderr.decode(errors='replace')
    if 'Stream #' not in streams:
        last = streams.strip().splitlines()
        raise VideoFileError(f'ffmpeg cannot read it: {last[-1] if last else "?"}')
    if 'Audio:' not in streams:
        raise VideoFileError('no audio track (lip learning needs the speech)')
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), '-v', 'error', '-i', str(path), '-vn', '-ac', '1',
         '-ar', str(SAMPLE_RATE), '-f', 's16le', '-'],
        capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors='replace').strip().splitlines()
        raise VideoFileError(f'ffmpeg cannot read audio: {message[-1] if message else "?"}')
    if not result.stdout:
        raise VideoFileError('no audio track (lip learning needs the speech)')
    return np.frombuffer(result.stdout, dtype='<i2').astype(np.float32) / 32767.0


def observe_frames(path, observer):
    """-> (frame times [s] (n,), lips (n, 40, 3) with NaN where no face, detected (n,))."""
    import cv2

    from face_msgs import face_layout

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoFileError('OpenCV cannot open it as a video')
        fps = capture.get(cv2.CAP_PROP_FPS)
        if not fps or not np.isfinite(fps) or fps <= 0:
            raise VideoFileError('the video reports no frame rate')
        lips, detected = [], []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            seen = observer.observe(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            detected.append(seen.detected)
            lips.append(seen.points[face_layout.LIPS] if seen.detected
                        else np.full((40, 3), np.nan))
    finally:
        capture.release()
    if not lips:
        raise VideoFileError('no video frames could be decoded')
    return np.arange(len(lips)) / fps, np.array(lips), np.array(detected)


def resample_lips(times, lips, detected, n_frames):
    """Video-rate lips -> (n_frames, 40, 3) at 100 Hz and their valid mask."""
    t = np.arange(n_frames) / FRAME_RATE
    right = np.clip(np.searchsorted(times, t, side='right'), 1, len(times) - 1)
    left = right - 1
    if len(times) == 1:
        left = right = np.zeros(n_frames, int)
        weight = np.zeros(n_frames)
    else:
        weight = np.clip((t - times[left]) / (times[right] - times[left]), 0.0, 1.0)
    frame_step = times[1] - times[0] if len(times) > 1 else 1.0
    inside = t <= times[-1] + frame_step
    valid = detected[left] & detected[right] & inside
    out = (1 - weight)[:, None, None] * lips[left] + weight[:, None, None] * lips[right]
    out[~valid] = np.nan
    return out, valid


def video_clip(path, observer):
    """One video -> (audio16k, lips (frames, 40, 3), valid (frames,))."""
    audio = read_audio(path)
    times, lips, detected = observe_frames(path, observer)
    if not detected.any():
        raise VideoFileError('no face found in any frame')
    n_frames = len(audio) // HOP
    if n_frames == 0:
        raise VideoFileError('the audio track is shorter than 10 ms')
    out, valid = resample_lips(times, lips, detected, n_frames)
    return audio, out, valid


def build(files, out_dir, language='unknown', progress=True):
    """Add every readable video to the corpus at out_dir; report written and skipped files."""
    from tqdm import tqdm

    from mirror_calibration.observer import FaceObserver

    writer = corpus.CorpusWriter(out_dir)
    done = writer.existing_ids()
    written, skipped, faceless = [], [], 0
    for path in tqdm([pathlib.Path(f) for f in files], desc='lip-corpus video', unit='video',
                     disable=not progress):
        clip_id = f'video_{path.stem}'
        if clip_id in done:
            continue
        if not path.is_file():
            skipped.append({'file': str(path), 'reason': 'no such file'})
            continue
        try:
            audio, lips, valid = video_clip(path, FaceObserver(static_images=False))
        except VideoFileError as error:
            skipped.append({'file': str(path), 'reason': str(error)})
            continue
        faceless += int((~valid).sum())
        # One file is one speaker unless the user says otherwise by naming files.
        info = dict(id=clip_id, kind='video', language=language, voice='', speaker=path.stem,
                    text='', source=str(path))
        written.append(writer.add(info, audio, lips, valid=valid)['id'])
    return {'written': written, 'skipped': skipped, 'frames_without_face': faceless,
            'out': str(out_dir)}
