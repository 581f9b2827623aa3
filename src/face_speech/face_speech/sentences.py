"""Text -> sentences, the unit the streaming TTS synthesises while the one before plays.

A sentence ends at . ! ? ... (and the CJK and Devanagari full stops) followed by a space or
the end, or at a blank line. Not at the dot of a number (3.14), of a common abbreviation
(Dr., e.g.) or of a single letter (J. Smith). Sentences longer than max_chars are cut at
their last comma, semicolon or colon before the limit, else at a space: the first sound
waits for the first sentence's synthesis, so a short first piece starts the voice sooner.
"""

import re

MAX_CHARS = 200  # [characters] longer sentences are cut at a clause boundary

# Lower-case words that end with a dot without ending the sentence.
ABBREVIATIONS = frozenset({
    'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'cf',
    'approx', 'no', 'fig', 'z.b', 'd.h', 'usw', 'bzw', 'ca', 'nr', 'mme', 'mlle'})
_END = re.compile(r'([.!?…]+["\')\]»”’]*)(\s+|$)|([。！？।]+)(\s*)|\n\s*\n')


def split_sentences(text, max_chars=MAX_CHARS):
    """The sentences of text, stripped, none empty, in order; max_chars >= 20."""
    if max_chars < 20:
        raise ValueError(f'max_chars {max_chars} is below 20')
    sentences, start = [], 0
    for match in _END.finditer(text):
        end = match.end(1) if match.group(1) else (match.end(3) if match.group(3)
                                                    else match.start())
        if match.group(1) and match.group(1) == '.' and _dot_continues(text, match.start(1)):
            continue
        sentences.append(text[start:end])
        start = match.end()
    sentences.append(text[start:])
    out = []
    for sentence in sentences:
        out += _cut(' '.join(sentence.split()), max_chars)
    return [s for s in out if s]


def _dot_continues(text, dot):
    """True when the dot at index dot belongs to an abbreviation or initial."""
    word = re.search(r'(\S+)$', text[:dot])
    if word is None:
        return False
    token = word.group(1).lstrip('("\'[«“‘').lower()
    return token in ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _cut(sentence, max_chars):
    pieces = []
    while len(sentence) > max_chars:
        head = sentence[:max_chars]
        at = max(head.rfind(', '), head.rfind('; '), head.rfind(': '))
        at = at + 1 if at > max_chars // 4 else head.rfind(' ')
        if at <= 0:
            at = max_chars
        pieces.append(sentence[:at].strip())
        sentence = sentence[at:].strip()
    return pieces + [sentence]
