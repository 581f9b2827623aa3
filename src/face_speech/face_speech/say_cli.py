"""face-say and face-chat: Say goals from the command line.

    face-say "Hello there." [--voice de] [--language de] [--file speech.wav] [--wait]
    face-chat [FILE]        # one goal per non-empty line of FILE (default stdin), each awaited

Without --wait face-say returns once the goal is accepted. Ctrl-C while waiting cancels the
goal (barge-in). Exit status: 0 played, 1 aborted or rejected, 2 no speech node, 130 Ctrl-C.
"""

import argparse
import sys
import time

SERVER_WAIT = 10.0  # [s] for the speech node's action server to appear


class SayClient:
    """A node with a Say action client; everything is spun from the calling thread."""

    def __init__(self, action='speech/say'):
        import rclpy
        from rclpy.action import ActionClient

        from face_msgs.action import Say

        rclpy.init()
        self.rclpy, self.Say = rclpy, Say
        self.node = rclpy.create_node('face_say')
        self.client = ActionClient(self.node, Say, action)

    def connect(self, timeout=SERVER_WAIT):
        return self.client.wait_for_server(timeout_sec=timeout)

    def send(self, text='', voice='', language='', audio_path='', on_feedback=None):
        """-> the accepted goal handle, or None when rejected."""
        goal = self.Say.Goal(text=text, voice=voice, language=language, audio_path=audio_path)
        future = self.client.send_goal_async(goal, feedback_callback=on_feedback)
        self.rclpy.spin_until_future_complete(self.node, future)
        handle = future.result()
        return handle if handle is not None and handle.accepted else None

    def wait(self, handle):
        """-> the goal's result (Say.Result) once it ends; Ctrl-C cancels the goal first."""
        future = handle.get_result_async()
        try:
            self.rclpy.spin_until_future_complete(self.node, future)
        except KeyboardInterrupt:
            cancel = handle.cancel_goal_async()
            self.rclpy.spin_until_future_complete(self.node, cancel, timeout_sec=2.0)
            raise
        return future.result().result

    def close(self):
        self.node.destroy_node()
        self.rclpy.try_shutdown()


def _say_one(client, handle_args, wait, quiet=False):
    """Send one goal (and wait for it when asked); -> exit status."""
    started = time.monotonic()
    handle = client.send(**handle_args)
    if handle is None:
        print('face-say: the speech node rejected the goal', file=sys.stderr)
        return 1
    if not wait:
        return 0
    result = client.wait(handle)
    if not quiet or not result.success:
        print(f'{"ok" if result.success else "failed"}: {result.message} '
              f'({time.monotonic() - started:.2f} s)', file=sys.stdout if result.success
              else sys.stderr)
    return 0 if result.success else 1


def _run(body, action):
    try:
        client = SayClient(action)
    except ImportError as error:
        print(f'face-say: ROS is not set up ({error}); run make setup', file=sys.stderr)
        return 2
    try:
        if not client.connect():
            print(f'face-say: no speech node serves {action} (start speech_node)',
                  file=sys.stderr)
            return 2
        return body(client)
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()


def _voice_options(parser):
    parser.add_argument('--voice', default='', help='TTS voice (espeak: a voice or language)')
    parser.add_argument('--language', default='', help='language code of the text')
    parser.add_argument('--action', default='speech/say', help='the Say action name')


def say_main(argv=None):
    parser = argparse.ArgumentParser(prog='face-say', description='Say text (or play a '
                                     'file) on the face: one Say goal to speech_node.')
    parser.add_argument('text', nargs='?', default='', help='what to say')
    parser.add_argument('--file', default='', help='a WAV/FLAC file to play instead of text')
    parser.add_argument('--wait', action='store_true', help='wait until it has been said')
    _voice_options(parser)
    args = parser.parse_args(argv)
    if bool(args.text.strip()) == bool(args.file):
        parser.error('give either text or --file')
    goal = {'text': args.text, 'voice': args.voice, 'language': args.language,
            'audio_path': args.file}
    sys.exit(_run(lambda client: _say_one(client, goal, args.wait), args.action))


def chat_main(argv=None):
    parser = argparse.ArgumentParser(prog='face-chat', description='Say every non-empty '
                                     'line of a file (or stdin), one Say goal each, in turn.')
    parser.add_argument('file', nargs='?', default='-', help='text file; - = stdin')
    _voice_options(parser)
    args = parser.parse_args(argv)

    def chat(client):
        lines = sys.stdin if args.file == '-' else open(args.file, encoding='utf-8')
        status = 0
        with lines:
            for line in lines:
                if line.strip():
                    goal = {'text': line.strip(), 'voice': args.voice,
                            'language': args.language}
                    status = max(status, _say_one(client, goal, wait=True))
        return status

    sys.exit(_run(chat, args.action))
