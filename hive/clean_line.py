"""Clean-line patterns: per file kind and layout, one regular expression that only a line passing every
validation rule of the HQL can match.

The checked views (``10_origination.hql``, ``20_performance.hql``) try it first: a line that matches is
clean in one regex pass over the line, and only the rest (bad lines, and clean ones written in a way the
pattern is too strict for, such as a blank first field) walk the per-field rules that name the reason.
So the pattern must be *sound* (match ⇒ every rule passes), never *complete*. Each field's piece is the
rule's own regex where the rule is one, and stricter where the rule is a trimmed length:

- numbers: the rule's digits, or empty (a blank number is NULL); required dates: never empty;
- text: at most the field's width untrimmed (so at most that trimmed); ``id_loan``: starts with a letter
  or digit (so it is not blank);
- no field holds the delimiter, U+FFFD (the rules' "not valid UTF-8" marker), NUL or a backslash (the
  rule that keeps them from the warehouses' loaders), and the pattern ends with ``\\z``, not ``$``:
  Java's ``$`` (Spark, Hive) also matches before a final line terminator.

The HQL files hold the patterns as literals, so they run on any Hive unchanged; a unit test checks that
they are the ones generated here from the layouts, and a property test that they are sound.
"""

from __future__ import annotations

from producers.freddie.layouts import CANONICAL, LAYOUTS, Field, Kind, Layout

DELIMITER = "|"
NOT_UTF8 = "\ufffd"
# Regex escapes, not the characters: the HQL files stay plain text.
NOT_LOADABLE = "\\x00\\\\"
ANY_TEXT = f"[^|{NOT_UTF8}{NOT_LOADABLE}]"
YYYYMM = "[0-9]{4}(0[1-9]|1[0-2])"
# The rules reject these when blank; every other field may be empty.
REQUIRED = frozenset({"id_loan", "dt_first_pi", "period"})


def field_pattern(field: Field) -> str:
    if field.name == "id_loan":
        return f"[0-9A-Za-z]{ANY_TEXT}{{0,{field.width - 1}}}"
    if field.type == "int":
        piece = f"-?[0-9]{{1,{field.width}}}"
    elif field.type == "decimal":
        piece = f"-?[0-9]{{1,{field.width}}}([.][0-9]{{1,{field.scale}}})?"
    elif field.type == "yyyymm":
        piece = YYYYMM
    else:
        return f"{ANY_TEXT}{{0,{field.width}}}"
    return piece if field.name in REQUIRED else f"({piece})?"


def clean_line_pattern(layout: Layout) -> str:
    """The layout's clean-line regex: canonical fields by their rules, the layout's other fields free."""
    canonical = {f.name: f for f in CANONICAL[layout.kind]}
    pieces = [
        field_pattern(canonical[f.name]) if f.name in canonical else f"{ANY_TEXT}*" for f in layout.fields
    ]
    return "^" + f"[{DELIMITER}]".join(pieces) + "\\z"


def hql_literal(pattern: str) -> str:
    """The pattern as an HQL string literal (Hive unescapes backslashes in literals)."""
    return "'" + pattern.replace("\\", "\\\\").replace("'", "\\'") + "'"


def clean_line_cases(kind: Kind) -> list[str]:
    """The CASE branches the checked view of ``kind`` starts with, one per layout."""
    return [
        f"WHEN layout = '{layout.name}' AND line RLIKE {hql_literal(clean_line_pattern(layout))} THEN NULL"
        for layout in LAYOUTS
        if layout.kind is kind
    ]
