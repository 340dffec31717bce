"""The reference pages, generated from the code at build time (an MkDocs hook).

A page that says ``<!-- generated: NAME -->`` gets the table ``NAME`` in its place:
``settings`` (from the ``Settings`` class and the ``#:`` comments above its fields),
``cli`` (from the typer app), ``errors`` (from the error tree and the HTTP layer's
mapping), ``close-codes`` and ``realtime-protocol`` (from ``headwater.realtime``).
The public API is one page per public package (a package whose ``__init__`` has
``__all__``), added to the nav in place of ``reference/api/index.md``; each name is
rendered by mkdocstrings once, on the page of the package it lives in, and linked from
the others. Nothing here is hand-copied, so a setting, command or code added to the
code appears in the docs on the next build.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import pkgutil
import re
import tokenize
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API_INDEX = "reference/api/index.md"
MARKER = re.compile(r"<!-- generated: ([a-z-]+)(?: ([\w.]+))? -->")


# --- public API -----------------------------------------------------------------------


def public_packages() -> list[str]:
    """``headwater``, ``headwater.errors`` and each package whose ``__init__`` has ``__all__``.

    The same rule as ``tests/test_public_api.py``.
    """
    import headwater

    names = ["headwater", "headwater.errors"]
    for info in pkgutil.iter_modules(headwater.__path__):
        if info.ispkg and hasattr(importlib.import_module(f"headwater.{info.name}"), "__all__"):
            names.append(f"headwater.{info.name}")
    return names


def _defined_in(value: Any) -> str | None:
    module = getattr(value, "__module__", None)
    if isinstance(module, str) and (inspect.isclass(value) or callable(value)):
        return module
    return None


def _home(name: str, value: Any, listings: list[str]) -> str:
    """The package a name is documented in: the one its defining module lives under.

    Re-exports (``headwater.Settings``, ``headwater.realtime.ChannelForbidden``) link
    there instead of repeating it. A constant has no ``__module__``: the first package
    other than ``headwater`` that lists it is its home.
    """
    module = _defined_in(value)
    if module is not None:
        best = max(
            listings, key=lambda pkg: (module == pkg or module.startswith(pkg + "."), len(pkg))
        )
        if module == best or module.startswith(best + "."):
            return best
    deeper = [pkg for pkg in listings if pkg != "headwater"]
    return deeper[0] if deeper else listings[0]


def api_pages() -> dict[str, str]:
    """``reference/api/<package>.md`` -> its Markdown, plus the index."""
    packages = public_packages()
    modules = {name: importlib.import_module(name) for name in packages}
    listings: dict[tuple[str, int], list[str]] = {}
    for pkg, module in modules.items():
        for name in module.__all__:
            listings.setdefault((name, id(getattr(module, name))), []).append(pkg)
    pages: dict[str, str] = {}
    index = [
        "# Public API\n",
        "Import from `headwater` or from one of the packages below; every other module is",
        "private and may move. Each page lists its package's `__all__`, generated from the code.",
        "A name re-exported by several packages is described once, where it is defined, and",
        "linked from the others.\n",
        "| package | names | what it is |",
        "|---|---|---|",
    ]
    for pkg, module in modules.items():
        summary = (inspect.getdoc(module) or "").split("\n\n", 1)[0].replace("\n", " ")
        index.append(f"| [`{pkg}`]({pkg}.md) | {len(module.__all__)} | {summary} |")
        lines = [f"# `{pkg}`\n", f"::: {pkg}", "    options:", "      members: false", ""]
        lines.append("| name | documented in |\n|---|---|")
        own: list[str] = []
        for name in module.__all__:
            homes = listings[(name, id(getattr(module, name)))]
            home = _home(name, getattr(module, name), homes)
            if home == pkg:
                own.append(name)
                lines.append(f"| [`{name}`](#{pkg}.{name}) | here |")
            else:
                lines.append(f"| `{name}` | [`{home}`]({home}.md#{home}.{name}) |")
        lines.append("")
        for name in own:
            lines += [f"::: {pkg}.{name}", "    options:", "      show_root_full_path: false", ""]
        pages[f"reference/api/{pkg}.md"] = "\n".join(lines)
    pages[API_INDEX] = "\n".join(index) + "\n"
    return pages


# --- settings -------------------------------------------------------------------------


def _comments_above_fields(source: str) -> dict[int, tuple[str, str]]:
    """Line number of each field -> (its ``#:`` comment, the section it sits under)."""
    found: dict[int, tuple[str, str]] = {}
    pending: list[str] = []
    section = "general"
    for token in tokenize.generate_tokens(StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = token.string
            if text.startswith("#:"):
                pending.append(text[2:].strip())
            elif text.startswith("# ---"):
                section = text.strip("#- ").split(" (")[0].strip()
                pending = []
        elif token.type == tokenize.NAME and token.start[1] == 4:
            found[token.start[0]] = (" ".join(pending), section)
            pending = []
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
    return found


def settings_markdown() -> str:
    from headwater.settings import Settings

    path = Path(inspect.getfile(Settings))
    source = path.read_text("utf-8")
    comments = _comments_above_fields(source)
    lines_of: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    lines_of[item.target.id] = item.lineno
    prefix = Settings.model_config.get("env_prefix", "")
    rows: dict[str, list[str]] = {}
    # One comment may describe a run of adjacent fields (the request-head limits).
    described, previous_line = "", 0
    for name, field in Settings.model_fields.items():
        line = lines_of[name]
        comment, section = comments.get(line, ("", "general"))
        if comment:
            described = name
        elif described and line == previous_line + 1:
            comment = f"See ``{prefix}{described}``.".upper().replace("SEE", "See")
        else:
            described = ""
        previous_line = line
        annotation = ast.get_source_segment(source, _annotation(source, name)) or ""
        default = "required" if field.is_required() else f"`{field.get_default()!r}`"
        variable = f"{prefix}{name}".upper()
        text = _inline_code(comment) or "&nbsp;"
        row = f"| `{variable}` | `{annotation}` | {default} | {text} |"
        rows.setdefault(section, []).append(row)
    out: list[str] = []
    for section, section_rows in rows.items():
        out += [
            f"### {section[0].upper()}{section[1:]}\n",
            "| variable | type | default | meaning |",
        ]
        out += ["|---|---|---|---|", *section_rows, ""]
    return "\n".join(out)


def _annotation(source: str, name: str) -> ast.expr:
    for node in ast.walk(ast.parse(source)):
        target = getattr(node, "target", None)
        if isinstance(node, ast.AnnAssign) and isinstance(target, ast.Name) and target.id == name:
            return node.annotation
    raise LookupError(name)


def _inline_code(text: str) -> str:
    """reST ``literals`` to Markdown `literals`; pipes would split a table cell."""
    return text.replace("``", "`").replace("|", "\\|")


# --- CLI ------------------------------------------------------------------------------


def cli_markdown() -> str:
    import typer

    from headwater.cli._main import app

    out: list[str] = []

    # Duck-typed: typer builds click commands, and newer typer vendors its own click.
    def walk(command: Any, path: list[str]) -> None:
        if path:
            out.append(f"{'#' * min(len(path) + 2, 6)} `headwater {' '.join(path)}`\n")
            out.append(_inline_code(inspect.cleandoc(command.help or "")) + "\n")
            rows = [_param_row(param) for param in command.params]
            if rows:
                out.extend(["| option | meaning | default |", "|---|---|---|", *rows, ""])
        for name in sorted(getattr(command, "commands", {})):
            walk(command.commands[name], [*path, name])

    walk(typer.main.get_command(app), [])
    return "\n".join(out)


def _param_row(param: Any) -> str:
    if param.param_type_name == "argument":
        text = _inline_code(getattr(param, "help", None) or "")
        return f"| `{param.name.upper()}` (argument) | {text} | required |"
    flags = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
    if param.required:
        default = "required"
    elif param.default is None or param.default == [] or param.default == ():
        default = ""
    else:
        default = f"`{param.default}`"
    return f"| {flags} | {_inline_code(param.help or '')} | {default} |"


# --- errors ---------------------------------------------------------------------------


def errors_markdown() -> str:
    from headwater import errors
    from headwater.http._error_handlers import CODE_BY_STATUS, STATUS_BY_ERROR

    def status(cls: type[errors.HeadwaterError]) -> int:
        # The HTTP layer's rule (``status_for``), applied to the class.
        explicit = getattr(cls, "http_status", None)
        if isinstance(explicit, int):
            return explicit
        return next((code for base, code in STATUS_BY_ERROR if issubclass(cls, base)), 500)

    out = ["| error | parent | code | HTTP status | meaning |", "|---|---|---|---|---|"]
    for name in _tree_order(errors):
        cls = getattr(errors, name)
        parent = cls.__mro__[1].__name__ if cls is not errors.HeadwaterError else ""
        doc = inspect.getdoc(cls) if "__doc__" in vars(cls) and cls.__doc__ else ""
        meaning = _inline_code((doc or "").split("\n\n", 1)[0].replace("\n", " "))
        out.append(f"| `{name}` | `{parent}` | `{cls.code}` | {status(cls)} | {meaning} |")
    out += [
        "",
        "Errors raised by the web framework itself (an unknown route, a wrong method,",
        "a request body that fails validation) carry the code of their status:",
        "",
        "| HTTP status | code |",
        "|---|---|",
    ]
    out += [f"| {status} | `{code}` |" for status, code in sorted(CODE_BY_STATUS.items())]
    return "\n".join(out) + "\n"


def _tree_order(errors: Any) -> list[str]:
    """The classes in the order of the tree drawn in the module's docstring."""
    drawn = re.findall(r"[─└├]+ (\w+)|^    (HeadwaterError)$", errors.__doc__, re.MULTILINE)
    return [a or b for a, b in drawn]


# --- realtime -------------------------------------------------------------------------


def close_codes_markdown() -> str:
    from headwater.realtime import CloseCode

    members: list[enum.IntEnum] = list(CloseCode)
    out = ["| code | name |", "|---|---|"]
    out += [f"| {int(code)} | `{code.name}` |" for code in members]
    return "\n".join(out) + "\n"


def realtime_protocol_markdown() -> str:
    """The protocol as the realtime package's docstring states it, reST made Markdown."""
    import headwater.realtime

    text = inspect.getdoc(headwater.realtime) or ""
    body = text.split("\n", 1)[1]
    body = re.sub(r"^WebSocket protocol.*\n=+\n", "", body.strip() + "\n", flags=re.MULTILINE)
    out: list[str] = []
    in_block = False
    for line in body.splitlines():
        if in_block and line and not line.startswith("    "):
            while out[-1] == "":
                out.pop()
            out.extend(["```", ""])
            in_block = False
        if in_block:
            if line or out[-1] != "```text":
                out.append(line[4:])
        elif line.endswith("::"):
            out.extend([_inline_code(line[:-1]), "", "```text"])
            in_block = True
        else:
            out.append(line.replace("``", "`"))
    if in_block:
        out.append("```")
    return "\n".join(out) + "\n"


# --- metrics --------------------------------------------------------------------------


def metrics_markdown() -> str:
    """Every ``headwater_*`` metric: each call in the source that names one and its help."""
    import headwater

    found: dict[str, tuple[str, str]] = {}
    package = Path(headwater.__file__).parent
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and len(node.args) >= 2:
                name, text = _string(node.args[0]), _string(node.args[1])
                if name.startswith("headwater_") and text:
                    found.setdefault(name, (text, _labels(node)))
            elif isinstance(node, ast.Tuple):
                # A table row (key, metric name, kind, help), as the link collectors keep.
                strings = [_string(e) for e in node.elts]
                names = [text for text in strings if text.startswith("headwater_")]
                if len(names) == 1 and len(strings) >= 3 and strings[-1]:
                    found.setdefault(names[0], (strings[-1], ""))
    out = ["| metric | labels | meaning |", "|---|---|---|"]
    out += [
        f"| `{name}` | {labels} | {_inline_code(text)} |"
        for name, (text, labels) in sorted(found.items())
    ]
    return "\n".join(out) + "\n"


def _string(node: ast.expr) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def _labels(call: ast.Call) -> str:
    """The label names, when the call lists them as literal strings."""
    candidates = [*call.args[2:3], *(k.value for k in call.keywords if k.arg == "labels")]
    for node in candidates:
        if _string(node):
            return f"`{_string(node)}`"
        if isinstance(node, ast.List | ast.Tuple) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
        ):
            return ", ".join(f"`{_string(e)}`" for e in node.elts)
    return ""


def alert_rules_markdown() -> str:
    from headwater.observability import default_rules

    out = ["| rule | watches | fires past | clears past | samples | severity |"]
    out.append("|---|---|---|---|---|---|")
    for rule in default_rules():
        sign = ">" if rule.comparison == "above" else "<"
        out.append(
            f"| `{rule.name}` | `{rule.metric}` | {sign} {rule.threshold:g} | {rule.clear:g} "
            f"| {rule.for_samples} | {rule.severity} |"
        )
    return "\n".join(out) + "\n"


# --- the reference apps ---------------------------------------------------------------


def app_modules_markdown(package: str) -> str:
    """Each module of an app with the first paragraph of its docstring (its own summary)."""
    folder = ROOT.joinpath(*package.split("."))
    out = ["| module | what it does |", "|---|---|"]
    for path in sorted(folder.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
        summary = _inline_code(doc.split("\n\n", 1)[0].replace("\n", " "))
        out.append(f"| `{path.relative_to(ROOT).as_posix()}` | {summary} |")
    return "\n".join(out) + "\n"


def sse_protocol_markdown() -> str:
    """The Server-Sent Events form, as the module that serves it states it."""
    from headwater.realtime import _sse

    text = inspect.getdoc(_sse) or ""
    return _inline_code(text.split("\n\n", 1)[1] if "\n\n" in text else text) + "\n"


GENERATORS = {
    "sse-protocol": sse_protocol_markdown,
    "alert-rules": alert_rules_markdown,
    "metrics": metrics_markdown,
    "settings": settings_markdown,
    "cli": cli_markdown,
    "errors": errors_markdown,
    "close-codes": close_codes_markdown,
    "realtime-protocol": realtime_protocol_markdown,
}


# --- MkDocs hooks ---------------------------------------------------------------------


def _expand_api_nav(items: list[Any]) -> None:
    for i, item in enumerate(items):
        if isinstance(item, dict):
            for title, value in item.items():
                if value == API_INDEX:
                    pages = [API_INDEX, *(f"reference/api/{pkg}.md" for pkg in public_packages())]
                    items[i] = {title: pages}
                elif isinstance(value, list):
                    _expand_api_nav(value)


def on_config(config: Any) -> Any:
    _expand_api_nav(config["nav"])
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for src_uri, content in api_pages().items():
        files.append(File.generated(config, src_uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(expand, markdown)


def expand(match: re.Match[str]) -> str:
    """The generated Markdown for one marker (``app-modules`` takes a package argument)."""
    name, argument = match.group(1), match.group(2)
    if name == "app-modules":
        return app_modules_markdown(argument)
    return GENERATORS[name]()
