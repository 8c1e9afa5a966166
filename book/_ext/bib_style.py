"""Sphinx extension: the reference list's labels in the text's author-year form.

The text cites author-year (``bibtex_reference_style: author_year``: "Zhang et al. [2021]"), but
pybtex's default label style numbers or abbreviates the list ("[ZDK+21]"), so a reader could not
find a citation in the list by what the text says. The ``authoryear`` style labels each entry
"Zhang et al. 2021" (one author: "Kimura 2021"; two: "A and B 2019"; a, b, ... when two entries
would share a label), sorts the list by author, year and title, and otherwise formats entries as
pybtex's ``unsrt`` does (with ``eprint`` as an arXiv link and ``doi`` as a DOI link).
"""
from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    return " ".join(part.render_as("text") for part in person.rich_prelast_names + person.rich_last_names)


def author_year_label(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in persons]
    if not names:
        who = entry.fields.get("title", entry.key).split(":")[0]
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who} {entry.fields.get('year', '')}".strip()


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(e) for e in sorted_entries]
        total, seen = Counter(labels), Counter()
        for label in labels:
            if total[label] > 1:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
