"""Splitting a raw post into the words the training data would have, with character offsets.

The datasets tokenise differently, and a model sees its own dataset's words
best:

- Twitter-2017 (UMT's release): ``@`` and ``#`` are words of their own
  (``@ warriors``, ``# NBAFinals``), an apostrophe is a word between its
  neighbours (``Leonard ' s``, ``can ' t``), URLs were removed.
- Twitter-2015: ``@name``, ``#tag`` and URLs stay whole; apostrophes split as
  in Twitter-2017 (``I ' ve``).
- MNRE: ``@name`` whole, ``# tag`` split, Penn-Treebank clitics
  (``Cosby 's``, ``did n't``), abbreviations and numbers keep their dots
  (``U.S.``, ``Mr.``, ``3.5``), dots run together (``...``).

Everywhere else: letters/digits/underscore runs are words, and each other
character (punctuation, each emoji code point, variation selectors) is a word.
"""
import re
from typing import Dict, List, Optional, Tuple

_URL = r"https?://\S+|www\.\S+"
_WORD = r"\w+"
_SYMBOL = r"[^\w\s]"
# MNRE (Penn Treebank): the clitic starts a word of its own
_CLITIC_WORD = r"\w+(?=n['’]t\b)|n['’]t\b|['’](?:s|S|m|M|re|RE|ve|VE|ll|LL|d|D)\b"
_TITLES = 'Mr|Mrs|Ms|Dr|St|Jr|Sr|Sen|Rep|Gov|Gen|Prof|vs|Co|Inc|Ltd|Bros|Nov|Dec|Jan|Feb|Aug|Sept|Oct'
_ABBREV = rf"(?:[A-Za-z]\.){{2,}}|(?:{_TITLES})\.|[A-Z]\.(?=\s+[A-Z])"
_NUMBER = r"\d+(?:[.,:/]\d+)+"
_DOTS = r"\.{2,}|-{2,}"
_EMOTICON = r"[:;=]-?[()DPp](?!\w)"
_HTML_ENTITY = r"&(?:amp|gt|lt|quot)"

PRESETS: Dict[str, dict] = {
    # "May 21, 2016" → "21," and "10,000" whole, as in the file
    'twitter2017': dict(mentions='split', hashtags='split', clitics=False,
                        extra=[_EMOTICON, r"\d+(?:[.,]\d+)+|\d+,(?!\S)"]),
    # hyphenated words whole ("same-sex"); a word cut by the 140 characters keeps its "…"
    'twitter2015': dict(mentions='whole', hashtags='whole', clitics=False,
                        extra=[r"\S+…", _HTML_ENTITY, r"w/o?|b/c", r"\w+(?:-\w+)+", r"\d+(?:/\d+)+",
                               r"-{2,}"]),
    'mnre': dict(mentions='whole', hashtags='split', clitics=True,
                 extra=[_EMOTICON, r"\.@\w+", _HTML_ENTITY, r"w/", r"\|\|"]),
}


class PostTokenizer:
    """Words of a post with their character offsets, in a dataset's tokenisation.

    Args:
        style: one of :data:`PRESETS` (``'twitter2017'``, ``'twitter2015'``, ``'mnre'``).

    >>> PostTokenizer('twitter2017').words("Kawhi Leonard's #NBAAwards vote")
    ['Kawhi', 'Leonard', "'", 's', '#', 'NBAAwards', 'vote']
    >>> PostTokenizer('mnre').words("RT @WLWT: Bill Cosby's star")
    ['RT', '@WLWT', ':', 'Bill', 'Cosby', "'s", 'star']
    """

    def __init__(self, style: str = 'twitter2017'):
        if style not in PRESETS:
            raise ValueError(f'unknown tokenisation style {style!r}; one of {sorted(PRESETS)}')
        self.style = style
        opts = PRESETS[style]
        parts = [_URL] + opts['extra']
        if opts['mentions'] == 'whole':
            parts.append(r"@\w+")
        if opts['hashtags'] == 'whole':
            parts.append(r"#\w+")
        if opts['clitics']:
            parts += [_ABBREV, _NUMBER, _DOTS, _CLITIC_WORD]
            # hyphenated and apostrophe-inside words (O'Brien, HA-1112), not before a clitic
            parts.append(r"\w+(?:(?:-|['’](?!(?:s|S|m|M|re|RE|ve|VE|ll|LL|d|D)\b))\w+)*")
        parts += [_WORD, _SYMBOL]
        self._pattern = re.compile('|'.join(f'(?:{p})' for p in parts))

    def __call__(self, text: str) -> List[Tuple[str, int, int]]:
        """``[(word, start, end)]`` with ``text[start:end] == word``."""
        return [(m.group(), m.start(), m.end()) for m in self._pattern.finditer(text)]

    def words(self, text: str) -> List[str]:
        return [w for w, _, _ in self(text)]

    def __repr__(self):
        return f'{type(self).__name__}(style={self.style!r})'


def style_of_config(cfg) -> Optional[str]:
    """The tokenisation style of the data a config trains on, from its train dataset."""
    ds = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'dataset' in ds:  # wrapped datasets
        ds = ds['dataset']
    kind, ann = ds.get('type', ''), str(ds.get('ann_file', ''))
    if kind == 'MNREDataset':
        return 'mnre'
    if 'twitter2015' in ann:
        return 'twitter2015'
    if kind == 'TwitterNERDataset':
        return 'twitter2017'
    return None
