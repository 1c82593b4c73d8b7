"""A seeded probabilistic grammar of English-like sentences with subject–verb number agreement.

Every generated sentence carries its own annotation (main subject, main verb, the nouns before the
verb, construction), so tasks can build agreement probes, language-model corpora or recall filler
from it. Agreement is the only long-distance dependency: the main verb's number is the number of
the subject's head noun, however many nouns (attractors) come between them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Noun:
    singular: str
    plural: str
    animate: bool


@dataclass(frozen=True)
class Verb:
    singular: str  # present (or past, for was/were) form agreeing with a singular subject
    plural: str
    kind: str  # transitive (takes an object) | intransitive | copula (takes an adjective)
    subject: str = "animate"  # animate | any: the subjects it selects (what the nonce variant ignores)


def _nouns(text: str, animate: bool) -> list[Noun]:
    """'writer', 'child/children': a regular plural adds -s, an irregular one is spelled out."""
    out = []
    for item in text.split():
        sg, _, pl = item.partition("/")
        out.append(Noun(sg, pl or sg + "s", animate))
    return out


NOUNS: list[Noun] = _nouns(
    "writer author critic teacher student doctor patient farmer painter pilot senator manager friend "
    "lawyer officer soldier singer dancer actor artist banker baker driver guard judge nurse player "
    "reporter sailor scientist surgeon tourist visitor worker neighbour customer engineer minister "
    "pianist poet prince queen king guest boy girl dog cat horse bird lion tiger rabbit "
    "child/children man/men woman/women mouse/mice goose/geese person/people policeman/policemen "
    "fireman/firemen wolf/wolves thief/thieves wife/wives ox/oxen", animate=True) + _nouns(
    "book key cabinet table house car chair door window picture letter song film road bridge garden "
    "tower lamp clock computer phone ship train bottle cup plate wall bell boat stone ring coat shirt "
    "box/boxes church/churches city/cities story/stories knife/knives leaf/leaves shelf/shelves "
    "tooth/teeth foot/feet potato/potatoes", animate=False)

_REGULAR = {  # third-person singular → plural base form
    "transitive": "praises likes sees admires knows follows meets helps loves hates visits calls "
                  "watches/watch teaches/teach finds remembers thanks trusts greets blames writes reads carries/carry chases",
    "transitive_any": "needs hides blocks covers touches/touch",
    "intransitive": "sleeps smiles laughs waits works sings dances cries/cry complains arrives "
                    "swims talks listens",
    "intransitive_any": "falls shines breaks moves remains exists",
}


def _verbs() -> list[Verb]:
    out = [Verb("is", "are", "copula", "any"), Verb("was", "were", "copula", "any"),
           Verb("has", "have", "transitive", "any"), Verb("does", "do", "transitive", "animate")]
    for group, text in _REGULAR.items():
        kind, _, selects = group.partition("_")
        for item in text.split():
            sg, _, pl = item.partition("/")
            out.append(Verb(sg, pl or sg[:-1], kind, selects or "animate"))
    return out


VERBS: list[Verb] = _verbs()
# verbs that take a sentential complement ("the managers say that the writer … is"): kept out of VERBS so
# the default grammar (and every corpus built from it) is unchanged
COMPLEMENT_VERBS: list[Verb] = [Verb(sg, sg[:-1], "complement") for sg in
                                "says thinks believes hopes claims suspects fears admits".split()]
ADJECTIVES = ["old", "young", "famous", "quiet", "tall", "clever", "small", "new", "red", "strange",
              "happy", "late", "ready", "busy", "broken", "beautiful", "dark", "lovely"]
ADVERBS = ["often", "never", "always", "rarely", "really", "clearly", "also", "usually"]
PREPOSITIONS = ["of", "near", "behind", "with", "beside", "from", "under", "for"]
SENTENCE_ADVERBS = ["today", "yesterday", "sometimes", "meanwhile"]
DETERMINERS = {False: ["the", "the", "the", "a", "this"], True: ["the", "the", "the", "these", "some"]}
MODIFIER_KINDS = ("pp", "src", "orc")  # prepositional phrase, subject / object relative clause
# what comes before the subject: nothing, a sentence adverb, a fronted PP with a noun ("near the x , …"), or a
# matrix clause whose complement holds the probed clause ("the managers say that …"); the last two put a noun
# before the subject, so the subject is not always the first noun
SHAPES = ("plain", "adverb", "preposed_pp", "complement")
DEFAULT_SHAPES = ("plain", "plain", "plain", "adverb", "preposed_pp")
CONTENT_CLASSES = ("noun", "verb", "cverb", "adj", "adv")


class Lexicon:
    """The word lists with the look-ups probes and baselines need (word → class, number)."""

    def __init__(self, nouns: list[Noun] = NOUNS, verbs: list[Verb] = VERBS):
        self.nouns, self.verbs = list(nouns), list(verbs)
        self.noun_number = {f: pl for n in self.nouns for f, pl in ((n.singular, False), (n.plural, True))}
        self.verb_number = {f: pl for v in self.verbs for f, pl in ((v.singular, False), (v.plural, True))}
        clash = set(self.noun_number) & (set(self.verb_number) | set(ADJECTIVES) | set(ADVERBS))
        if clash:  # a form in two classes would make number look-ups ambiguous
            raise ValueError(f"word forms in more than one class: {sorted(clash)}")

    def verbs_of(self, kind: str | None = None) -> list[Verb]:
        return [v for v in self.verbs if kind is None or v.kind == kind]

    @staticmethod
    def selects(verb: Verb, noun: Noun) -> bool:
        """Selectional restriction: 'the table sleeps' is grammatical but meaningless."""
        return verb.subject == "any" or noun.animate


LEXICON = Lexicon()

PairFilter = Callable[[Noun, Verb], bool]


@dataclass
class Sentence:
    tokens: list[str]
    subject_index: int  # index of the main subject's head noun
    subject_plural: bool
    verb_index: int  # index of the main verb (one token)
    construction: str  # simple | pp | src | orc (all modifiers of one kind) | mixed
    nouns_before_verb: list[tuple[int, bool]] = field(default_factory=list)  # (index, plural)
    shape: str = "plain"  # one of SHAPES
    classes: list[str] = field(default_factory=list)  # word class of each token
    modifiers: list[str] = field(default_factory=list)  # kinds of the subject's modifiers, in order
    subject_noun: Noun | None = None
    main_verb: Verb | None = None
    agreements: list[tuple[int, int]] = field(default_factory=list)  # (controller noun, verb) indices

    @property
    def attractors(self) -> int:
        """Nouns between subject and verb whose number differs from the subject's."""
        return sum(1 for i, pl in self.nouns_before_verb
                   if self.subject_index < i < self.verb_index and pl != self.subject_plural)

    @property
    def intervening_nouns(self) -> int:
        """Nouns between the subject and the verb, whatever their number."""
        return sum(1 for i, _ in self.nouns_before_verb if self.subject_index < i < self.verb_index)

    @property
    def first_noun_plural(self) -> bool:
        """Number of the sentence's first noun (the subject only when nothing is fronted)."""
        return min(self.nouns_before_verb)[1]

    @property
    def distance(self) -> int:
        """Tokens from the subject's head noun to the verb (1 = adjacent)."""
        return self.verb_index - self.subject_index

    @property
    def nearest_noun_plural(self) -> bool:
        """Number of the noun closest before the verb (the sequential-recency cue)."""
        return max(self.nouns_before_verb)[1]

    @property
    def correct_form(self) -> str:
        return self.tokens[self.verb_index]

    @property
    def wrong_form(self) -> str:
        v = self.main_verb
        return v.singular if self.subject_plural else v.plural


def _construction(kinds: list[str]) -> str:
    if not kinds:
        return "simple"
    return kinds[0] if len(set(kinds)) == 1 else "mixed"


class Grammar:
    """Samples sentences; `rng` is the only source of randomness.

    `pair_ok(noun, verb)` restricts every subject–verb agreement pair the grammar produces
    (to keep held-out combinations out of a training corpus); `main_pairs`, when given, is the
    list the main subject–verb pair is drawn from (the held-out combinations, for test items).
    """

    def __init__(self, rng: random.Random, lexicon: Lexicon = LEXICON, max_modifiers: int = 3,
                 pair_ok: PairFilter | None = None, main_pairs: list[tuple[Noun, Verb]] | None = None,
                 modifier_prob: float | None = None, shapes: tuple[str, ...] = DEFAULT_SHAPES):
        self.rng, self.lex, self.max_modifiers, self.shapes = rng, lexicon, max_modifiers, list(shapes)
        self.pair_ok = pair_ok or (lambda n, v: True)
        self.main_pairs = main_pairs
        # None: modifier count min(U, U) over 0..max; p: each further modifier with probability p
        # (a natural-language-like skew, where long subjects are rare)
        self.modifier_prob = modifier_prob
        self.animate = [n for n in self.lex.nouns if n.animate] or self.lex.nouns
        self._verb_options: dict[tuple[str, tuple[str, ...]], list[Verb]] = {}  # filtering is the hot path

    # --- words
    def _emit(self, out: list[str], classes: list[str], word: str, cls: str) -> int:
        out.append(word)
        classes.append(cls)
        return len(out) - 1

    def noun_phrase(self, out, classes, nouns, plural: bool | None = None, noun: Noun | None = None) -> tuple[int, bool, Noun]:
        plural = self.rng.random() < 0.5 if plural is None else plural
        noun = noun or self.rng.choice(self.lex.nouns)
        self._emit(out, classes, self.rng.choice(DETERMINERS[plural]), "det")
        if self.rng.random() < 0.25:
            self._emit(out, classes, self.rng.choice(ADJECTIVES), "adj")
        index = self._emit(out, classes, noun.plural if plural else noun.singular, "noun")
        nouns.append((index, plural))
        return index, plural, noun

    def choose_verb(self, noun: Noun, kinds: tuple[str, ...]) -> Verb:
        key = (noun.singular, kinds)
        if key not in self._verb_options:
            options = [v for v in self.lex.verbs if v.kind in kinds and self.lex.selects(v, noun)
                       and self.pair_ok(noun, v)]
            if not options:  # the filter removed every verb of these kinds: relax the kind
                options = [v for v in self.lex.verbs if self.lex.selects(v, noun) and self.pair_ok(noun, v)]
            self._verb_options[key] = options
        return self.rng.choice(self._verb_options[key])

    def verb_and_complement(self, out, classes, nouns, verb: Verb, plural: bool) -> int:
        index = self._emit(out, classes, verb.plural if plural else verb.singular, "verb")
        if verb.kind == "transitive":
            self.noun_phrase(out, classes, nouns)
        elif verb.kind == "copula":
            self._emit(out, classes, self.rng.choice(ADJECTIVES), "adj")
        elif self.rng.random() < 0.3:
            self._emit(out, classes, self.rng.choice(ADVERBS), "adv")
        return index

    # --- subject modifiers
    def modifier(self, out, classes, nouns, agreements, head: tuple[int, Noun, bool],
                 noun_plural: bool | None = None) -> tuple[str, tuple[int, Noun, bool]]:
        """A modifier of the noun `head` (index, noun, plural) containing exactly one noun, of
        number `noun_plural` (random if None); returns its kind and that noun."""
        kind = self.rng.choice(MODIFIER_KINDS)
        head_index, head_noun, head_plural = head
        if kind == "pp":
            self._emit(out, classes, self.rng.choice(PREPOSITIONS), "prep")
            inner = self.noun_phrase(out, classes, nouns, noun_plural)
        elif kind == "src":  # the writer that praises the critics
            self._emit(out, classes, "that", "comp")
            verb = self.choose_verb(head_noun, ("transitive",))
            v = self._emit(out, classes, verb.plural if head_plural else verb.singular, "verb")
            agreements.append((head_index, v))
            inner = self.noun_phrase(out, classes, nouns, noun_plural)
        else:  # the writer that the critics praise
            self._emit(out, classes, "that", "comp")
            inner = self.noun_phrase(out, classes, nouns, noun_plural, self.rng.choice(self.animate))
            verb = self.choose_verb(inner[2], ("transitive",))
            v = self._emit(out, classes, verb.plural if inner[1] else verb.singular, "verb")
            agreements.append((inner[0], v))
        return kind, (inner[0], inner[2], inner[1])

    def _main_pair(self) -> tuple[Noun, Verb]:
        if self.main_pairs is not None:
            return self.rng.choice(self.main_pairs)
        noun = self.rng.choice(self.lex.nouns)
        kinds = self.rng.choice([("transitive",), ("intransitive",), ("copula",)])
        return noun, self.choose_verb(noun, kinds)

    def sentence(self, attractors: int | None = None, *, shape: str | None = None,
                 subject_plural: bool | None = None, mismatches: list[bool] | None = None,
                 fronted_plural: bool | None = None) -> Sentence:
        """One sentence; with `attractors` set, exactly that many modifier nouns differ in number.

        A probe frame fixes everything instead: the `shape`, the subject's number, one flag per modifier
        (`mismatches`: does its noun differ from the subject?) and the fronted noun's number. With all four
        given, the random draws do not depend on them, so one rng state gives the same words in every
        variant of the frame and only the numbers (and the forms agreeing with them) change."""
        out: list[str] = []
        classes: list[str] = []
        nouns: list[tuple[int, bool]] = []
        agreements: list[tuple[int, int]] = []
        shape = shape or self.rng.choice(self.shapes)
        self._before_subject(shape, out, classes, nouns, agreements, fronted_plural)
        noun, verb = self._main_pair()
        subject, plural, _ = self.noun_phrase(out, classes, nouns, subject_plural, noun=noun)
        if mismatches is None:
            numbers = self._modifier_numbers(plural, attractors)
        else:
            numbers = [plural != flip for flip in mismatches]
        kinds, site = [], (subject, noun, plural)
        for pl in numbers:
            # a modifier attaches to the subject or nests under the previous modifier's noun, so a
            # relative-clause verb may agree with an attractor ("the writer of the books that praise …")
            head = (subject, noun, plural) if self.rng.random() < 0.5 else site
            kind, site = self.modifier(out, classes, nouns, agreements, head, pl)
            kinds.append(kind)
        if self.rng.random() < 0.15:
            self._emit(out, classes, self.rng.choice(ADVERBS), "adv")
        nouns_before = list(nouns)
        verb_index = self.verb_and_complement(out, classes, nouns, verb, plural)
        agreements.append((subject, verb_index))
        self._emit(out, classes, ".", "punct")
        return Sentence(out, subject, plural, verb_index, _construction(kinds), nouns_before, shape,
                        classes, kinds, noun, verb, agreements)

    def _before_subject(self, shape, out, classes, nouns, agreements, plural: bool | None) -> None:
        if shape == "adverb":
            self._emit(out, classes, self.rng.choice(SENTENCE_ADVERBS), "adv")
        elif shape == "preposed_pp":  # a noun before the subject: the first noun is not always it
            self._emit(out, classes, self.rng.choice(PREPOSITIONS[1:]), "prep")
            self.noun_phrase(out, classes, nouns, plural)
            self._emit(out, classes, ",", "punct")
        elif shape == "complement":  # the managers say that …: a noun and a verb of its own number first
            index, pl, _ = self.noun_phrase(out, classes, nouns, plural, self.rng.choice(self.animate))
            verb = self.rng.choice(COMPLEMENT_VERBS)
            agreements.append((index, self._emit(out, classes, verb.plural if pl else verb.singular, "cverb")))
            self._emit(out, classes, "that", "comp")
        elif shape != "plain":
            raise ValueError(f"unknown sentence shape '{shape}'; valid: {', '.join(SHAPES)}")

    def _modifier_numbers(self, plural: bool, attractors: int | None) -> list[bool | None]:
        """Numbers of the modifier nouns: free when `attractors` is None, else exactly that many
        differ from the subject, at random positions among the modifiers."""
        if attractors is None:
            if self.modifier_prob is None:
                count = min(self.rng.randint(0, self.max_modifiers), self.rng.randint(0, self.max_modifiers))
            else:
                count = 0
                while count < self.max_modifiers and self.rng.random() < self.modifier_prob:
                    count += 1
            return [None] * count
        count = self.rng.randint(attractors, max(attractors, self.max_modifiers))
        flips = set(self.rng.sample(range(count), attractors))
        return [(not plural) if i in flips else plural for i in range(count)]


def generate(n: int, seed: int, **kwargs) -> list[Sentence]:
    """n sentences from a grammar seeded with `seed` (deterministic)."""
    grammar = Grammar(random.Random(seed), **kwargs)
    return [grammar.sentence() for _ in range(n)]


# --------------------------------------------------------------------------- held-out combinations


def heldout_pairs(seed: int, fraction: float = 0.2, lexicon: Lexicon = LEXICON) -> set[tuple[str, str]]:
    """(noun, verb) singular-form pairs kept out of training, so test items pair a subject with a
    verb never seen agreeing with it; every noun and verb keeps some training pairs."""
    rng = random.Random(seed)
    pairs = [(n, v) for n in lexicon.nouns for v in lexicon.verbs if lexicon.selects(v, n)]
    rng.shuffle(pairs)
    left_noun = {n.singular: 0 for n in lexicon.nouns}
    left_verb = {v.singular: 0 for v in lexicon.verbs}
    for n, v in pairs:
        left_noun[n.singular] += 1
        left_verb[v.singular] += 1
    held: set[tuple[str, str]] = set()
    for n, v in pairs:
        if len(held) >= fraction * len(pairs):
            break
        if left_noun[n.singular] > 3 and left_verb[v.singular] > 3:
            held.add((n.singular, v.singular))
            left_noun[n.singular] -= 1
            left_verb[v.singular] -= 1
    return held


def split_grammars(seed: int, held: set[tuple[str, str]], lexicon: Lexicon = LEXICON,
                   max_modifiers: int = 4, modifier_prob: float | None = None) -> tuple[Grammar, Grammar]:
    """(training grammar that never produces a held-out pair, test grammar whose main pair is held out)."""
    def train_ok(n: Noun, v: Verb) -> bool:
        return (n.singular, v.singular) not in held
    test_pairs = [(n, v) for n in lexicon.nouns for v in lexicon.verbs if (n.singular, v.singular) in held]
    train = Grammar(random.Random(seed), lexicon, max_modifiers, pair_ok=train_ok, modifier_prob=modifier_prob)
    test = Grammar(random.Random(seed + 1), lexicon, max_modifiers, pair_ok=train_ok, main_pairs=test_pairs)
    return train, test


def nonce_variant(sentence: Sentence, rng: random.Random, lexicon: Lexicon = LEXICON) -> Sentence:
    """Gulordava et al. (2018): replace every content word by a random word of the same class and
    number, ignoring meaning; the main verb (the probed form) and all function words stay."""
    tokens = list(sentence.tokens)
    for i, cls in enumerate(sentence.classes):
        if i == sentence.verb_index or cls not in CONTENT_CLASSES:
            continue
        word = tokens[i]
        if cls == "noun":
            noun = rng.choice(lexicon.nouns)
            tokens[i] = noun.plural if lexicon.noun_number[word] else noun.singular
        elif cls == "verb":
            kind = next(v.kind for v in lexicon.verbs if word in (v.singular, v.plural))
            verb = rng.choice(lexicon.verbs_of(kind))
            tokens[i] = verb.plural if lexicon.verb_number[word] else verb.singular
        elif cls == "cverb":
            verb = rng.choice(COMPLEMENT_VERBS)
            tokens[i] = verb.singular if word.endswith("s") else verb.plural
        elif cls == "adj":
            tokens[i] = rng.choice(ADJECTIVES)
        else:
            tokens[i] = rng.choice(ADVERBS if word in ADVERBS else SENTENCE_ADVERBS)
    subject = next(n for n in lexicon.nouns if tokens[sentence.subject_index] in (n.singular, n.plural))
    return Sentence(tokens, sentence.subject_index, sentence.subject_plural, sentence.verb_index,
                    sentence.construction, list(sentence.nouns_before_verb), sentence.shape,
                    list(sentence.classes), list(sentence.modifiers), subject, sentence.main_verb,
                    list(sentence.agreements))
