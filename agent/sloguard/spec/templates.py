"""Alert labels and annotations are Prometheus (Go text/template) templates: what would keep a
rule file from loading is found here, before any rule is written (pure).

Not a template engine: it finds unclosed actions and comments, `end` without a block and
blocks without `end`, variables never set, and functions neither Go nor Prometheus define,
the mistakes that make Prometheus refuse the whole rule group.
"""

from __future__ import annotations

import re

# Go's builtins and the functions Prometheus adds to alert templates.
FUNCTIONS = frozenset(
    {
        *("and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf"),
        *("println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"),
        *("query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml"),
        *("match", "title", "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel"),
        *("stripPort", "stripDomain", "humanize", "humanize1024", "humanizeDuration"),
        *("humanizePercentage", "humanizeTimestamp", "toTime", "toDuration", "parseDuration"),
        *("pathPrefix", "externalURL", "now"),
    }
)
VARIABLES = frozenset({"$", "$labels", "$value", "$externalLabels", "$externalURL"})
_OPENS = frozenset({"if", "range", "with", "define", "block"})
_KEYWORDS = _OPENS | {"else", "end", "template", "break", "continue", "nil", "true", "false"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'')
_SET = re.compile(r"(\$\w+(?:\s*,\s*\$\w+)?)\s*:?=")
_VARIABLE = re.compile(r"\$\w*")
# A command's first word: at the start of the action, after a pipe or an opening parenthesis.
_COMMAND = re.compile(r"(?:^|[|(])\s*([A-Za-z_]\w*)")


def template_problem(text: str) -> str | None:
    """Why Prometheus would refuse `text` as a template, or None."""
    if "{{" not in text:
        return None
    declared = set(VARIABLES)
    depth = 0
    rest = text
    while (start := rest.find("{{")) != -1:
        rest = rest[start + 2 :]
        body = rest[1:] if rest.startswith("-") else rest
        if body.lstrip().startswith("/*"):
            end = rest.find("*/")
            if end == -1 or not rest[end + 2 :].lstrip(" -").startswith("}}"):
                return "a template comment `{{/*` is not closed by `*/}}`"
            rest = rest[rest.find("}}", end) + 2 :]
            continue
        end = rest.find("}}")
        if end == -1:
            return "a template action `{{` is not closed by `}}`"
        inner = body[: end - (len(rest) - len(body))]
        action, rest = _STRING.sub('""', inner).strip(" -"), rest[end + 2 :]
        if action.startswith("{"):
            return "`{{{` opens a template action on `{`"
        words = action.split()
        if words and words[0] in _OPENS:
            depth += 1
        elif words and words[0] == "end":
            depth -= 1
            if depth < 0:
                return "a template `{{ end }}` closes no block"
        for names in _SET.findall(action):
            declared.update(_VARIABLE.findall(names))
        for variable in _VARIABLE.findall(action):
            if variable not in declared:
                return f"template variable {variable} is never set"
        for name in _COMMAND.findall(action):
            if name not in FUNCTIONS and name not in _KEYWORDS:
                return f"template function {name!r} is not defined"
    if depth > 0:
        return "a template block (`if`, `range`, `with`) is not closed by `{{ end }}`"
    return None
