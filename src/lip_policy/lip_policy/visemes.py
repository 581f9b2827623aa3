"""Phoneme -> viseme: the table the teacher and the viseme baseline share.

A viseme is a class of phonemes that look alike on the lips. Phonemes arrive as IPA
strings (espeak-ng's names, e.g. "ˈuː", "tʃ", "aɪ") or, for the pocketsphinx baseline, as
ARPAbet symbols; both map through the same table. Stress, length and other diacritics do
not change the lip class, so they are stripped first. A string that holds several vowels
(a diphthong) becomes a sequence of visemes that share its duration.

Each viseme's lip target (open, spread, round, tuck, press) and dominance live in
teacher.py; the README prints the full table.
"""

import re
import unicodedata

SILENCE = 'sil'

# IPA symbol -> viseme. Longer keys (affricates) are matched before single symbols.
_IPA = {
    # bilabials close the lips completely
    'p': 'PP', 'b': 'PP', 'm': 'PP', 'ɓ': 'PP', 'ʙ': 'PP', 'ɸ': 'PP', 'β': 'PP',
    # labiodentals: lower lip to the upper teeth
    'f': 'FF', 'v': 'FF', 'ɱ': 'FF', 'ʋ': 'FF',
    'θ': 'TH', 'ð': 'TH',
    'tʃ': 'CH', 'dʒ': 'CH', 'ʃ': 'CH', 'ʒ': 'CH', 'ɕ': 'CH', 'ʑ': 'CH', 'ʂ': 'CH', 'ʐ': 'CH',
    'tɕ': 'CH', 'dʑ': 'CH', 'tʂ': 'CH', 'dʐ': 'CH',
    's': 'SS', 'z': 'SS', 'ts': 'SS', 'dz': 'SS',
    't': 'DD', 'd': 'DD', 'n': 'DD', 'l': 'DD', 'ɾ': 'DD', 'ɫ': 'DD', 'ɗ': 'DD', 'ʈ': 'DD',
    'ɖ': 'DD', 'ɳ': 'DD', 'ɭ': 'DD', 'ɬ': 'DD', 'ɮ': 'DD', 'ɲ': 'DD', 'ʎ': 'DD', 'ɽ': 'DD',
    'c': 'DD', 'ɟ': 'DD',
    'k': 'KK', 'g': 'KK', 'ɡ': 'KK', 'ŋ': 'KK', 'x': 'KK', 'ɣ': 'KK', 'q': 'KK', 'ɢ': 'KK',
    'h': 'KK', 'ɦ': 'KK', 'ʔ': 'KK', 'χ': 'KK', 'ħ': 'KK', 'ʕ': 'KK', 'ç': 'KK', 'ʝ': 'KK',
    'ɴ': 'KK', 'ɰ': 'KK', 'ʜ': 'KK',
    'r': 'RR', 'ɹ': 'RR', 'ɻ': 'RR', 'ʁ': 'RR', 'ʀ': 'RR', 'ɺ': 'RR',
    # rounded approximants pucker
    'w': 'W', 'ʍ': 'W', 'ɥ': 'W',
    'j': 'J',
    'a': 'AA', 'ɑ': 'AA', 'ɐ': 'AA', 'æ': 'AA', 'ä': 'AA', 'ʌ': 'AA', 'ɶ': 'AA',
    'e': 'E', 'ɛ': 'E', 'ə': 'E', 'ɜ': 'E', 'ɘ': 'E', 'ɚ': 'E', 'ɝ': 'E', 'ɞ': 'E',
    'i': 'I', 'ɪ': 'I', 'ɨ': 'I', 'ɯ': 'I', 'ɤ': 'I',
    'o': 'O', 'ɔ': 'O', 'ɵ': 'O', 'ø': 'O', 'œ': 'O', 'ɒ': 'O',
    'u': 'U', 'ʊ': 'U', 'y': 'U', 'ʏ': 'U', 'ʉ': 'U',
}
VOWEL_VISEMES = ('AA', 'E', 'I', 'O', 'U')
VISEMES = (SILENCE, 'PP', 'FF', 'TH', 'CH', 'SS', 'DD', 'KK', 'RR', 'W', 'J') + VOWEL_VISEMES
BILABIAL = 'PP'
PUCKERED = ('W', 'U')

# ARPAbet (pocketsphinx's English phone set) -> IPA, so recognised phones use the IPA table.
ARPABET = {
    'AA': 'ɑ', 'AE': 'æ', 'AH': 'ʌ', 'AO': 'ɔ', 'AW': 'aʊ', 'AY': 'aɪ', 'B': 'b', 'CH': 'tʃ',
    'D': 'd', 'DH': 'ð', 'EH': 'ɛ', 'ER': 'ɝ', 'EY': 'eɪ', 'F': 'f', 'G': 'g', 'HH': 'h',
    'IH': 'ɪ', 'IY': 'i', 'JH': 'dʒ', 'K': 'k', 'L': 'l', 'M': 'm', 'N': 'n', 'NG': 'ŋ',
    'OW': 'oʊ', 'OY': 'ɔɪ', 'P': 'p', 'R': 'ɹ', 'S': 's', 'SH': 'ʃ', 'T': 't', 'TH': 'θ',
    'UH': 'ʊ', 'UW': 'u', 'V': 'v', 'W': 'w', 'Y': 'j', 'Z': 'z', 'ZH': 'ʒ', 'SIL': '',
}
_IGNORED = set('ˈˌːˑ.-_|‖‿̃ʰʲʷˠˤ̥̩̯̪̺̻̝̞̟̠̈̆̚ʼ 0123456789!\'"#@')


def _clean(ipa):
    # Decompose so that combining marks (nasal tilde, syllabic stroke, ...) can be dropped.
    text = unicodedata.normalize('NFD', ipa)
    return ''.join(ch for ch in text
                   if ch not in _IGNORED and not unicodedata.combining(ch))


def visemes_of(ipa):
    """Viseme sequence of one phoneme name; ['sil'] for pauses and unknown symbols.

    A diphthong gives one viseme per vowel; a consonant cluster name (e.g. syllabic "əl")
    gives its symbols in order.
    """
    # espeak-ng writes a language switch as "(en)": a marker, not a sound.
    text = _clean(re.sub(r'\([^)]*\)', '', ipa))
    result, i = [], 0
    while i < len(text):
        if text[i:i + 2] in _IPA:
            result.append(_IPA[text[i:i + 2]])
            i += 2
        else:
            viseme = _IPA.get(text[i])
            if viseme is not None:
                result.append(viseme)
            i += 1
    # Repeated classes (e.g. "iː" written "ii") are one lip gesture.
    merged = [v for k, v in enumerate(result) if k == 0 or result[k - 1] != v]
    return merged or [SILENCE]


def arpabet_to_ipa(symbol):
    """An ARPAbet phone ('B', 'UW1', 'SIL', '+NSN+') -> IPA; '' for silence and noise."""
    return ARPABET.get(symbol.strip('+').rstrip('012').upper(), '')
