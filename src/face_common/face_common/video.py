"""Frames (+ an optional mono audio track) -> an MP4 that plays in any normal player.

Also reads videos back: probe_video (frame count, codecs, streams) and read_audio.

Uses the ffmpeg binary bundled with imageio-ffmpeg (no system ffmpeg needed): H.264 in
yuv420p (the pixel format every player decodes) and AAC audio. Raw RGB frames stream into
ffmpeg's stdin; audio goes through a temporary 16-bit WAV file next to the output.
"""

import os
import pathlib
import re
import subprocess
import tempfile
import wave

import imageio_ffmpeg
import numpy as np


class VideoError(RuntimeError):
    """The video could not be written or read back."""


def _check_frame(frame, shape, index):
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise VideoError(f'frame {index} must be (H, W, 3) uint8 RGB, got {frame.dtype} '
                         f'{frame.shape}')
    if shape is not None and frame.shape != shape:
        raise VideoError(f'frame {index} is {frame.shape}, the first frame was {shape}; all '
                         'frames of a video must have one size')
    return frame


def _write_wav(path, audio, sample_rate):
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1:
        raise VideoError(f'audio must be mono (1-D), got shape {audio.shape}')
    if not np.all(np.isfinite(audio)):
        raise VideoError('audio contains NaN or infinite samples; clean it before writing')
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype('<i2')
    with wave.open(str(path), 'wb') as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())


def write_video(path, frames, fps=30.0, audio=None, sample_rate=None):
    """Write frames (iterable of (H, W, 3) uint8 RGB) to path as an H.264/AAC MP4.

    audio: optional mono float samples in [-1, 1] starting with the first frame;
    sample_rate [Hz] is then required. Width and height must be even (yuv420p). Returns the
    number of frames written. The file appears only when complete (written to a temporary
    name, then renamed), so an interrupted run never leaves a broken video behind.
    """
    path = pathlib.Path(path)
    if not fps > 0:
        raise VideoError(f'fps must be > 0, got {fps}')
    if audio is not None and not (sample_rate and sample_rate > 0):
        raise VideoError('audio given without a positive sample_rate [Hz]')
    frames = iter(frames)
    try:
        first = _check_frame(next(frames), None, 0)
    except StopIteration:
        raise VideoError('no frames to write; a video needs at least one frame') from None
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise VideoError(f'{width}x{height}: H.264 yuv420p needs even width and height; crop '
                         'or pad the frames by one pixel')
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + '.partial.mp4')
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        command = [imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-loglevel', 'error',
                   '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', f'{width}x{height}',
                   '-r', f'{fps}', '-i', '-']
        if audio is not None:
            wav = pathlib.Path(scratch) / 'audio.wav'
            _write_wav(wav, audio, sample_rate)
            command += ['-i', str(wav)]
        command += ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-preset', 'veryfast',
                    '-crf', '20', '-movflags', '+faststart']
        if audio is not None:
            command += ['-c:a', 'aac', '-b:a', '128k']
        command += [str(partial)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        count = 0
        try:
            frame = first
            while frame is not None:
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
                count += 1
                frame = next(frames, None)
                if frame is not None:
                    frame = _check_frame(frame, first.shape, count)
            process.stdin.close()
            errors = process.stderr.read().decode(errors='replace')
            if process.wait() != 0:
                raise VideoError(f'ffmpeg failed writing {path}: {errors.strip()}')
        except BaseException:
            process.kill()
            process.wait()
            partial.unlink(missing_ok=True)
            raise
        finally:
            process.stderr.close()
    os.replace(partial, path)
    return count


def probe_video(path):
    """What a video file holds: dict with frames, fps, width, height, has_audio, codecs.

    Decodes every frame (the reliable frame count) and reads the stream list ffmpeg prints.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise VideoError(f'no video at {path}')
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
        frames = sum(1 for _ in reader)
    except (RuntimeError, OSError) as exc:
        raise VideoError(f'{path} is not a readable video: {exc}') from exc
    finally:
        reader.close()
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-i', str(path)],
                          capture_output=True, text=True).stderr
    video_codec = re.search(r'Video: (\w+)', info)
    audio_codec = re.search(r'Audio: (\w+)', info)
    pix_fmt = re.search(r'Video: \w+[^,]*, (\w+)', info)
    width, height = meta['size']
    return {'frames': frames, 'fps': float(meta['fps']), 'width': width, 'height': height,
            'video_codec': video_codec.group(1) if video_codec else None,
            'pixel_format': pix_fmt.group(1) if pix_fmt else None,
            'has_audio': audio_codec is not None,
            'audio_codec': audio_codec.group(1) if audio_codec else None}


def read_audio(path, sample_rate=16000):
    """The audio track of a video (or audio file) as mono float32 samples in [-1, 1].

    Decoded and resampled to sample_rate [Hz] by the bundled ffmpeg; channels are averaged.
    Raises VideoError when the file is missing, unreadable or has no audio stream.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise VideoError(f'no file at {path}')
    if not sample_rate > 0:
        raise VideoError(f'sample_rate must be > 0 Hz, got {sample_rate}')
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-loglevel', 'error', '-i', str(path),
         '-map', '0:a:0', '-ac', '1', '-ar', str(int(sample_rate)), '-f', 'f32le', '-'],
        capture_output=True)
    if result.returncode != 0:
        lines = result.stderr.decode(errors='replace').strip().splitlines()
        reason = lines[-1] if lines else 'ffmpeg failed'
        raise VideoError(f'cannot read audio from {path}: {reason}; is it a media file with '
                         'an audio stream?')
    return np.frombuffer(result.stdout, dtype='<f4').copy()
