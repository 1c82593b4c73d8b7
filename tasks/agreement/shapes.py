"""Sentence shapes whose subject no fixed surface cue marks (issue 19, item 7).

The grammar fronts material in two cued ways: a prepositional phrase closed by a comma ("near the tables ,
the writer …") and a complement opened by "that" ("the managers say that the writer …"). A positional
template — the first noun after a comma, or after "that" following a complement verb — finds every subject of
such sentences without any syntax. Three shapes take the cue away, so a model (or a heuristic) has to find
the subject from structure:

- `preposed_pp_bare`: the fronted phrase without its comma ("near the tables the writer …");
- `complement_bare`: the complement without "that" ("the managers say the writer …");
- `adverbial_clause`: a fronted clause with a subject and verb of its own and no comma ("when the managers
  smile the writer …"); its cue words vary (SUBORDINATORS) and none marks where the clause ends.

Each is made by editing a sentence of the cued shape the grammar generates, so the grammar (and every other
task's corpus) is unchanged; the edit draws its words from the grammar's own rng after the sentence, which a
probe frame leaves in the same state for every variant, so all variants of a frame get the same words.
"""
from __future__ import annotations

import dataclasses

from suite.data.grammar import Grammar, Sentence

CUELESS = {"preposed_pp_bare": "preposed_pp", "complement_bare": "complement", "adverbial_clause": "complement"}
SUBORDINATORS = ("when", "while", "because", "although", "before", "after")


def base_shape(shape: str) -> str:
    """The grammar's shape a shape is edited from (itself for the grammar's own shapes)."""
    return CUELESS.get(shape, shape)


def sentence_of_shape(grammar: Grammar, shape: str, **design) -> Sentence:
    """One sentence of `shape` (the grammar's shapes or CUELESS); `design` as for `Grammar.sentence`."""
    sentence = grammar.sentence(shape=base_shape(shape), **design)
    if shape == "preposed_pp_bare":
        return _edited(sentence, shape, drop={sentence.tokens.index(",")})
    if shape == "complement_bare":
        return _edited(sentence, shape, drop={_complement_verb(sentence) + 1})  # the "that" after it
    if shape == "adverbial_clause":
        return _as_adverbial_clause(grammar, sentence)
    return sentence


def _complement_verb(sentence: Sentence) -> int:
    return sentence.classes.index("cverb")


def _as_adverbial_clause(grammar: Grammar, sentence: Sentence) -> Sentence:
    """'the managers say that the writer …' → 'when the managers smile the writer …': a subordinator first, the
    complement verb replaced by an intransitive verb agreeing with the same noun (chosen as every agreement
    pair of the grammar is, so no held-out pair enters training), and "that" dropped."""
    c = _complement_verb(sentence)
    noun_form = sentence.tokens[c - 1]
    noun = next(n for n in grammar.lex.nouns if noun_form in (n.singular, n.plural))
    verb = grammar.choose_verb(noun, ("intransitive",))
    form = verb.plural if grammar.lex.noun_number[noun_form] else verb.singular
    subordinator = grammar.rng.choice(SUBORDINATORS)
    return _edited(sentence, "adverbial_clause", drop={c + 1}, replace={c: (form, "verb")},
                   prepend=(subordinator, "sub"))


def _edited(sentence: Sentence, shape: str, drop: set[int], replace: dict[int, tuple[str, str]] | None = None,
            prepend: tuple[str, str] | None = None) -> Sentence:
    """The sentence with tokens dropped, replaced (word, class) or one put first, every index annotation moved."""
    replace = replace or {}
    tokens, classes = ([prepend[0]], [prepend[1]]) if prepend else ([], [])
    new_index: dict[int, int] = {}
    for i, (token, cls) in enumerate(zip(sentence.tokens, sentence.classes)):
        if i in drop:
            continue
        new_index[i] = len(tokens)
        token, cls = replace.get(i, (token, cls))
        tokens.append(token)
        classes.append(cls)
    return dataclasses.replace(
        sentence, tokens=tokens, classes=classes, shape=shape,
        subject_index=new_index[sentence.subject_index], verb_index=new_index[sentence.verb_index],
        nouns_before_verb=[(new_index[i], pl) for i, pl in sentence.nouns_before_verb],
        agreements=[(new_index[n], new_index[v]) for n, v in sentence.agreements])
