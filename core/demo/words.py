"""Lyrics of the demo: genre-themed English (Latin script) and Bangla (Bengali script) word lists."""

from __future__ import annotations

import numpy as np

_EN = {
    "pron": ("I", "you", "we", "they", "she"),
    "poss": ("my", "your", "our", "their"),
    "verb": ("run", "burn", "dance", "dream", "fall", "shine", "break", "hold", "call", "move", "ride", "sing",
             "wait", "fly"),
    "adj": ("golden", "broken", "electric", "lonely", "wild", "silver", "endless", "quiet", "burning", "velvet"),
    "rock": ("fire", "road", "thunder", "engine", "storm", "highway", "steel", "rebel", "night", "scream"),
    "pop": ("heart", "love", "summer", "kiss", "baby", "light", "forever", "tonight", "dream", "smile"),
    "hiphop": ("street", "block", "rhyme", "flow", "hustle", "money", "crown", "city", "cipher", "beat"),
    "jazz": ("moon", "whisper", "avenue", "smoke", "midnight", "rain", "cocktail", "blue", "lady", "saxophone"),
    "disco": ("floor", "groove", "mirror", "boogie", "glitter", "rhythm", "party", "lights", "funk", "feeling"),
}
_EN_TEMPLATES = (
    "{pron} {verb} through the {adj} {noun}",
    "{poss} {noun} is {adj} tonight",
    "{verb} with me, {verb} with me",
    "oh the {noun}, the {adj} {noun}",
    "{pron} {verb} and {pron} {verb}",
    "take {poss} {noun} and {verb}",
    "under the {adj} {noun}",
)
_BN = {
    "pron": ("আমি", "তুমি", "সে", "আমরা", "মন", "বন্ধু"),
    "poss": ("আমার", "তোমার", "তার", "মনের", "সবার"),
    "verb": ("খুঁজি", "ভাসে", "ডাকে", "কাঁদে", "হাসে", "জ্বলে", "গাই", "চলি", "বলি", "দেখি", "শুনি", "নাচে", "জাগে", "ভাঙে"),
    "adj": ("সোনার", "রঙিন", "একলা", "নীল", "অচিন", "পাগল", "মধুর", "গভীর", "নতুন", "পুরনো", "উদাস"),
    "baul": ("মন", "মানুষ", "দেহ", "গুরু", "সাধন", "একতারা", "মাঝি", "নৌকা", "ঘাট", "নদী", "পাখি", "খাঁচা"),
    "adhunik": ("চাঁদ", "জোছনা", "ফুল", "বৃষ্টি", "মেঘ", "আকাশ", "গান", "সুর", "স্মৃতি", "সন্ধ্যা"),
    "rock": ("শহর", "আগুন", "ঝড়", "রাত", "বিদ্রোহ", "স্বাধীনতা", "চিৎকার", "রাস্তা", "গিটার", "দেয়াল"),
    "pop": ("ভালোবাসা", "হৃদয়", "স্বপ্ন", "চোখ", "হাসি", "প্রেম", "অনুভূতি", "আলো", "ছোঁয়া", "দিন"),
    "hiphop": ("রাস্তা", "শহর", "ছন্দ", "কথা", "সত্য", "লড়াই", "গলি", "জীবন", "ঢাকা", "মাইক"),
}
_BN_TEMPLATES = (
    "{pron} {adj} {noun} {verb}",
    "{poss} {noun} {verb}",
    "ও {noun} রে, {poss} {noun} {verb}",
    "{adj} {noun}, {adj} {noun}",
    "{pron} {verb}, {pron} {verb}",
    "{poss} {adj} {noun}",
)


def make_lyrics(genre: str, language: str, rng: np.random.Generator) -> str:
    """A few lines of genre-themed lyrics in English (Latin) or Bangla (Bengali script), with a refrain."""
    words, templates, end = (_BN, _BN_TEMPLATES, "।") if language == "bng" else (_EN, _EN_TEMPLATES, "")
    theme = words.get(genre, words["pop"])

    def line() -> str:
        tpl = str(rng.choice(templates))
        out = tpl
        for slot in ("pron", "poss", "verb", "adj", "noun"):
            pool = theme if slot == "noun" else words[slot]
            while "{" + slot + "}" in out:
                out = out.replace("{" + slot + "}", str(rng.choice(pool)), 1)
        return out[0].upper() + out[1:] + end if language == "eng" else out + end

    refrain = [line(), line()]
    verse = [line() for _ in range(int(rng.integers(2, 5)))]
    return "\n".join(verse + refrain + [line() for _ in range(int(rng.integers(1, 3)))] + refrain)
