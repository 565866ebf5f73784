"""The form a name is compared in for deduplication (SG-ID-1): what makes two spellings the same person's name.

Only for matching: the name as written is what the person's record keeps and shows. The steps, each from a
well-kept source rather than a list of our own:

1. Unicode NFKC (compatibility forms: full-width letters, ligatures, superscripts become plain letters);
2. removal of every default-ignorable code point (the `regex` package's \\p{Default_Ignorable_Code_Point}: zero-width
   spaces and joiners, soft hyphens, word joiners, variation selectors, BOMs...), which are invisible when shown;
3. canonical decomposition and removal of combining marks (\\p{M}), so "Jose" with a combining accent, a precomposed
   accent or none compare alike: a suspected duplicate goes to a person (adjudication), never refused by itself;
4. Unicode case folding, with (5) applied before and after it;
5. a confusables skeleton after UTS #39: each character replaced by one representative of the characters Unicode's
   confusables data (shipped by `confusable-homoglyphs`) says look like it, so a Cyrillic U+0430 or a Greek U+03BF
   in a Latin name matches the Latin letter. Single characters only; the representative is a basic Latin letter where
   the class has one;
6. punctuation removed and whitespace (any separator) collapsed.

Changing any step changes the name blind index of already-enrolled people: see `PersonService.reindex_names` and
the backfill note in docs/services/identity.md.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from importlib import resources

import regex

MATCHING_VERSION = "name-match/v2"  # v1: NFKC, case folding, no punctuation (until 2026-12-01)

_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
_MARKS = regex.compile(r"\p{M}")
_PUNCTUATION = regex.compile(r"\p{P}")
_SEPARATORS = regex.compile(r"[\p{Z}\s]+")
_BIDI_MARK = "\u200e"  # the data file wraps right-to-left characters in left-to-right marks


def matching_name(name: str) -> str:
    """`name` in the form two names are compared in (see the module docstring)."""
    skeleton = _skeleton_map()
    text = _IGNORABLE.sub("", unicodedata.normalize("NFKC", name))
    text = _MARKS.sub("", unicodedata.normalize("NFD", text))
    # Before and after folding: the data maps capitals (Cyrillic U+041C to "M") and small letters alike.
    text = "".join(skeleton.get(char, char) for char in text).casefold()
    text = "".join(skeleton.get(char, char) for char in text)
    text = _PUNCTUATION.sub("", unicodedata.normalize("NFC", text))
    return str(_SEPARATORS.sub(" ", text)).strip()


@functools.cache
def _skeleton_map() -> dict[str, str]:
    """Each confusable character to its class's representative (classes: the confusables data, closed under
    'looks like'); built once per process from the package's data file (about 0.3 s)."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    parent: dict[str, str] = {}
    seen: set[str] = set()

    def root(char: str) -> str:
        while parent.get(char, char) != char:
            parent[char] = parent.get(parent[char], parent[char])
            char = parent[char]
        return char

    for raw_key, entries in data.items():
        key = raw_key.replace(_BIDI_MARK, "")
        for entry in entries:
            other = entry["c"].replace(_BIDI_MARK, "")
            if len(key) == 1 and len(other) == 1:
                seen.update((key, other))
                if root(key) != root(other):
                    parent[root(key)] = root(other)
    classes: dict[str, list[str]] = {}
    for char in seen:
        classes.setdefault(root(char), []).append(char)
    mapping: dict[str, str] = {}
    for members in classes.values():
        representative = min(members, key=_preference).casefold()
        mapping.update({char: representative for char in members if char != representative})
    return mapping


def _preference(char: str) -> tuple[bool, bool, bool, str]:
    return (not ("a" <= char <= "z"), not char.isascii() or not char.isalpha(), not char.isascii(), char)
