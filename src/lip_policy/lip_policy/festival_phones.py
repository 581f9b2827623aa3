"""Festival phone sets -> IPA, so festival's phones reach the teacher through the espeak table.

Each festival voice speaks in one phone set (the `name` of its PhoneSet.description). Every
phone of the set is written here as the IPA symbol(s) it stands for; `visemes.visemes_of`
then gives the viseme exactly as for espeak-ng's IPA (the README's viseme table). Length
marks and stress digits do not change a lip class, but they are kept in the IPA (ː) where
the set has them, so the stored phonemes read like espeak's. '' is silence: the
SILENCE_PHONES, and the phones a voice renders as silence.

The sets and the voices that use them (see festival.VOICES):
- radio: US English (ARPAbet in lower case, CMU/radio lexicon): cmu_us_slt_arctic_hts,
  ked_diphone. `nx` is the nasal flap, `dx` the flap, `el em en` syllabic consonants.
- czech (festival-czech): czech_ph, czech_machac, czech_krb. `c` is /ts/, `c~` /tʃ/, `ch`
  /x/, `d~ t~ n~` the palatals, `n*` /ŋ/ before k g, `r~` /r̝/ (ř, a trill with lip
  rounding close to /ʒ/'s, here the RR class) and `r~*` its voiceless form.
- finnish (suopuhe): hy_fi_mv_diphone. `@` is ä /æ/, `7` ö /ø/, `&` a schwa; a trailing
  ':' is a long (geminate) phone. `T D` are /θ ð/, `S Z` /ʃ ʒ/, `N` /ŋ/.
- italian: pc_diphone. A '1' marks a stressed vowel; `E O` are /ɛ ɔ/, `J` /ɲ/, `L` /ʎ/,
  `ng` /ŋ/, `nf` /ɱ/ (n before f v).
- upc_catalan-central: upc_ca_ona_hts. `ax` is /ə/, `E O` /ɛ ɔ/, `J` /ɲ/, `L` /ʎ/, `r` the
  tap /ɾ/ and `rr` the trill /r/, `S Z` /ʃ ʒ/; a '1' marks stress.
- hindi (festival-hi): hindi_NSK_diphone. Each phone is written as the Devanagari letter
  festival-hi's letter-to-sound rules give it for (e.g. `th dh` are त द, the dental /t̪ d̪/;
  `T D N L` the retroflex ट ड ण ळ; `f` is फ; aspirates are one phone (`kh tth ddh bh`) or
  two (घ is `g h`, छ `ch h`)), checked against the voice's recordings where they differ
  from the letter: `a` (अ) is as open as `aa` there (F1 about 560 Hz against 600; `eh` 410),
  so /ɐ/, not /ə/; `ay` (ऐ) glides from /ɛ/ to /i/; `f` is a fricative (noise, no closure).
  `r` (र) is the tap /ɾ/, as espeak-ng writes Hindi र.
  Phones the rules never give: `gh`, `@` (a front open vowel, F1 about 800 Hz: /æ/), `ksh` /kʃ/
  and `sri` /sri/ (whole clusters), `td` a voiceless alveolar stop, `R` a flap, `zh` a voiced
  approximant without frication (the Tamil ழ, /ɻ/; the diphone index is named
  DON_tamil_NSK), and `x` and `w`, which sound as silence: `x` is the silent closure of
  diphones like k-x, and `w` has no diphones (festival puts pau-pau in its place). ''
  marks those two.
"""

from lip_policy import visemes

SILENCE_PHONES = ('pau', 'h#', 'brth', '#', '##', '_')

# radio is ARPAbet in lower case (the pocketsphinx baseline's table) plus the phones ARPAbet
# leaves out: schwa, r-coloured schwa, flaps, syllabic consonants and the voiced h.
_RADIO = {arpabet.lower(): ipa for arpabet, ipa in visemes.ARPABET.items() if ipa} | {
    'ax': 'ə', 'axr': 'ɚ', 'dx': 'ɾ', 'nx': 'n', 'el': 'əl', 'em': 'əm', 'en': 'ən',
    'hv': 'ɦ',
}

_CZECH = {
    'a': 'a', 'a:': 'aː', 'b': 'b', 'c': 'ts', 'c~': 'tʃ', 'ch': 'x', 'd': 'd', 'd~': 'ɟ',
    'dz': 'dz', 'dz~': 'dʒ', 'e': 'ɛ', 'e:': 'ɛː', 'f': 'f', 'g': 'ɡ', 'h': 'ɦ', 'i': 'ɪ',
    'i:': 'iː', 'j': 'j', 'k': 'k', 'l': 'l', 'm': 'm', 'n': 'n', 'n*': 'ŋ', 'n~': 'ɲ',
    'o': 'o', 'o:': 'oː', 'p': 'p', 'r': 'r', 'r~': 'r', 'r~*': 'r', 's': 's', 's~': 'ʃ',
    't': 't', 't~': 'c', 'u': 'u', 'u:': 'uː', 'v': 'v', 'z': 'z', 'z~': 'ʒ',
}

_FINNISH_SHORT = {
    'a': 'ɑ', 'e': 'e', 'i': 'i', 'o': 'o', 'u': 'u', 'y': 'y', '@': 'æ', '7': 'ø', '&': 'ə',
    'p': 'p', 't': 't', 'k': 'k', 'b': 'b', 'd': 'd', 'g': 'ɡ', 'f': 'f', 'T': 'θ', 'D': 'ð',
    's': 's', 'z': 'z', 'S': 'ʃ', 'Z': 'ʒ', 'h': 'h', 'v': 'ʋ', 'm': 'm', 'n': 'n', 'N': 'ŋ',
    'l': 'l', 'L': 'l', 'r': 'r', 'j': 'j', 'w': 'w',
}
_FINNISH = _FINNISH_SHORT | {f'{phone}:': f'{ipa}ː' for phone, ipa in _FINNISH_SHORT.items()}

_ITALIAN = {
    'i': 'i', 'e': 'e', 'E': 'ɛ', 'a': 'a', 'o': 'o', 'O': 'ɔ', 'u': 'u',
    'i1': 'ˈi', 'e1': 'ˈe', 'E1': 'ˈɛ', 'a1': 'ˈa', 'o1': 'ˈo', 'O1': 'ˈɔ', 'u1': 'ˈu',
    'j': 'j', 'w': 'w', 'p': 'p', 't': 't', 'k': 'k', 'b': 'b', 'd': 'd', 'g': 'ɡ', 'f': 'f',
    's': 's', 'S': 'ʃ', 'v': 'v', 'z': 'z', 'Z': 'ʒ', 'ts': 'ts', 'tS': 'tʃ', 'dz': 'dz',
    'dZ': 'dʒ', 'm': 'm', 'n': 'n', 'J': 'ɲ', 'ng': 'ŋ', 'nf': 'ɱ', 'l': 'l', 'L': 'ʎ',
    'r': 'r',
}

_CATALAN = {
    'ax': 'ə', 'a': 'a', 'a1': 'ˈa', 'e': 'e', 'e1': 'ˈe', 'E': 'ɛ', 'E1': 'ˈɛ', 'i': 'i',
    'i1': 'ˈi', 'o': 'o', 'o1': 'ˈo', 'O': 'ɔ', 'O1': 'ˈɔ', 'u': 'u', 'u1': 'ˈu',
    'b': 'b', 'd': 'd', 'f': 'f', 'g': 'ɡ', 'j': 'j', 'J': 'ɲ', 'k': 'k', 'l': 'l', 'L': 'ʎ',
    'm': 'm', 'n': 'n', 'p': 'p', 'r': 'ɾ', 'rr': 'r', 's': 's', 'S': 'ʃ', 't': 't', 'w': 'w',
    'z': 'z', 'Z': 'ʒ',
}

_HINDI = {
    # vowels: अ आ इ ई उ ऊ ए ऐ ओ; ॅ and ऑ (English loans) are `ee` and `oo`, औ is `aw`
    'a': 'ɐ', 'aa': 'aː', 'ih': 'ɪ', 'iy': 'iː', 'uh': 'ʊ', 'uw': 'uː', 'eh': 'eː',
    'ay': 'ɛɪ', 'oh': 'oː', 'ee': 'ɛ', 'oo': 'ɔ', 'aw': 'ɔː', '@': 'æ',
    # velar, palatal, retroflex, dental and labial stops and nasals (क ख ग, च ज, ट ड ण,
    # त थ द ध न, प फ ब भ म); ं and ँ are `m` and `n`
    'k': 'k', 'kh': 'kʰ', 'g': 'ɡ', 'gh': 'ɡʱ', 'ch': 'tʃ', 'j': 'dʒ', 'T': 'ʈ', 'D': 'ɖ',
    'N': 'ɳ', 'th': 't̪', 'tth': 't̪ʰ', 'dh': 'd̪', 'ddh': 'd̪ʱ', 'n': 'n', 'p': 'p', 'f': 'f',
    'b': 'b', 'bh': 'bʱ', 'm': 'm', 'td': 't',
    # approximants, flaps, fricatives (य र ल ळ व, श ष स ह)
    'y': 'j', 'r': 'ɾ', 'R': 'ɽ', 'l': 'l', 'L': 'ɭ', 'v': 'ʋ', 'zh': 'ɻ', 's': 's',
    'sh': 'ʃ', 'h': 'ɦ', 'ksh': 'kʃ', 'sri': 'sri',
    # silent in this voice (see above)
    'x': '', 'w': '',
}

# festival phone set name -> {phone: IPA}
PHONE_SETS = {
    'radio': _RADIO,
    'czech': _CZECH,
    'finnish': _FINNISH,
    'italian': _ITALIAN,
    'upc_catalan-central': _CATALAN,
    'hindi': _HINDI,
}


class UnknownPhoneError(KeyError):
    """A festival phone that its phone set's table does not list."""


def to_ipa(phone, phone_set):
    """One festival phone of a phone set -> IPA ('' for silence); UnknownPhoneError otherwise."""
    if phone in SILENCE_PHONES:
        return ''
    try:
        return PHONE_SETS[phone_set][phone]
    except KeyError:
        raise UnknownPhoneError(f'festival phone {phone!r} of phone set {phone_set!r} has no IPA '
                           'in lip_policy.festival_phones; add it to that set\'s table') from None
