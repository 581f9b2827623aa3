"""The sentence splitter: where the streaming TTS cuts text."""

import pytest

from face_speech.sentences import split_sentences


@pytest.mark.parametrize('text, sentences', [
    ('Hello there. How are you? Fine!', ['Hello there.', 'How are you?', 'Fine!']),
    ('Pi is 3.14 today. Yes.', ['Pi is 3.14 today.', 'Yes.']),
    ('Dr. Smith met J. Doe, e.g. at noon. Then left.',
     ['Dr. Smith met J. Doe, e.g. at noon.', 'Then left.']),
    ('"Stop!" she said. Wait...  what?', ['"Stop!"', 'she said.', 'Wait...', 'what?']),
    ('no final stop', ['no final stop']),
    ('Line one\n\nLine two', ['Line one', 'Line two']),
    ('你好。今天好吗？好', ['你好。', '今天好吗？', '好']),
    ('  \n ', []),
    ('Ja.Nein', ['Ja.Nein']),
])
def test_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_long_sentences_are_cut_at_a_clause_and_keep_every_word():
    text = ('This is a very long sentence, which goes on and on about nothing at all, '
            'and then it goes on a little more without any full stop in sight')
    pieces = split_sentences(text, max_chars=60)
    assert all(len(p) <= 60 for p in pieces) and len(pieces) >= 3
    assert pieces[0].endswith(',')
    assert ' '.join(pieces).split() == text.split()


def test_a_word_longer_than_the_limit_is_cut_anyway():
    pieces = split_sentences('x' * 50, max_chars=20)
    assert ''.join(pieces) == 'x' * 50 and max(map(len, pieces)) <= 20
