"""Find the user-visible messages the apps' services raise, so the pages can
show them in Chinese without every app keeping a catalogue of its own.

The services raise domain errors with English messages (the API's contract);
pages translate them when they show them (`frontend.errors.error_text`). This
scanner reads the apps' source (AST, no imports) and collects:

- the string arguments of every `raise SomeError(...)` and of an error
  class's own `super().__init__(...)` (dict values and list
  items too, so `ValidationFailed({"field": ["..."]})` counts; dict keys, which
  are field names, and keyword arguments such as `code=` do not);
- lists of strings assigned to `errors[...]` (field errors gathered first),
  and what `*blocker*` functions return (why an account cannot be deleted yet);
- `gettext`/`_`/`gettext_lazy` calls outside the front end (the web login in
  `marketplace/accounts/web.py`, for example);
- the notes written on an order's timeline and posted into its conversation
  (`note=` arguments and `note = ...` assignments, with their `note or "..."`
  defaults and `note + "..."` endings; the text given to `*_note(...)` calls),
  and the reasons a provider gives (`ChargeResult`, `IdentityDecision`). These
  are stored as English text; pages translate them when they show them. The
  `*_note(...)` texts, which become chat system messages, are also listed
  apart (`CHAT_NOTES`) so the chat script can translate those arriving live.

An f-string becomes a template with named placeholders (`{DETAILS_MAX}` ->
`%(DETAILS_MAX)s`), matched back against the formatted message at display
time; `"text: " + expression` becomes `"text: %(detail)s"`.

`python manage.py frontend_messages` writes the result to
`frontend/domain_messages.py` (gettext_noop calls), which makemessages then
picks up into the front end's catalogue; `tests/frontend/test_i18n.py` fails
when the file is stale or a message lacks its translation.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where services live. API views, consumers, tasks, commands, the fraud model's
# internals and migrations are left out: pages never show their messages.
SCAN = ["listings", "search", "chat", "trust", "moderation", "marketplace"]
SKIP_DIRS = {"migrations", "management", "tests", "fraud", "relevance", "notifications",
             "analytics", "outbox", "__pycache__"}
SKIP_FILES = {"api.py", "api_security.py", "discovery_api.py", "consumers.py", "tasks.py",
              "admin.py", "apps.py", "urls.py", "asgi.py", "wsgi.py", "celery.py",
              "settings.py", "health.py", "logredact.py", "ws_auth.py", "embedded.py",
              "client.py", "indexing.py", "documents.py", "recommend_eval.py", "serve.py",
              "crypto.py", "events.py", "layers.py", "outbox_batch.py", "presence.py"}
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "pgettext", "ngettext"}
# Provider answers whose reason text a page shows (a declined card, a rejected document).
PROVIDER_RESULTS = {"ChargeResult", "IdentityDecision"}


def _template(node: ast.AST) -> str | None:
    """A message template for a string-ish node, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("%", "%%")
    if isinstance(node, ast.JoinedStr):
        out, index, used = [], 0, set()
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value).replace("%", "%%"))
            else:
                index += 1
                value = getattr(part, "value", None)
                name = (value.id if isinstance(value, ast.Name)
                        else value.attr if isinstance(value, ast.Attribute) else f"v{index}")
                if name in used:  # one name per placeholder: they become regex groups
                    name = f"{name}_{index}"
                used.add(name)
                out.append(f"%({name})s")
        return "".join(out)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _template(node.left)
        if left is not None and "%(" not in left:
            return left + "%(detail)s"
    return None


def _strings(node: ast.AST, found: set[str]) -> None:
    """Message templates in a raise argument (recursing into dicts, lists, calls)."""
    template = _template(node)
    if template is not None:
        found.add(template)
        return
    if isinstance(node, ast.Dict):
        for value in node.values:
            if value is not None:
                _strings(value, found)
    elif isinstance(node, ast.List | ast.Tuple):
        for item in node.elts:
            _strings(item, found)


def _note_strings(node: ast.AST, found: set[str]) -> None:
    """Templates in a note's value: `"..."`, `f"..."`, `note or "..."`,
    `note + " ..."` (the start is whatever the caller wrote), `f"..."[:500]`."""
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _note_strings(value, found)
    elif isinstance(node, ast.Subscript):
        _note_strings(node.value, found)
    elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
          and _template(node.left) is None):
        right = _template(node.right)
        if right is not None and "%(" not in right:
            found.add("%(detail)s" + right)
    else:
        _strings(node, found)


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _is_message(text: str) -> bool:
    plain = text.replace("%%", "%").strip()
    # Messages are sentences: at least two words or a trailing full stop, and
    # capitalised (lower-case ones are programmer errors or sentence fragments).
    return bool(plain) and not plain[0].islower() and (" " in plain or plain.endswith("."))


def _finish(found: set[str]) -> set[str]:
    # A template without placeholders is looked up verbatim: no %% escapes.
    return {t if "%(" in t else t.replace("%%", "%") for t in found if _is_message(t)}


def scan_file(path: Path, chat_notes: set[str] | None = None) -> set[str]:
    """The message templates in one source file; the texts of `*_note(...)`
    calls are also added to `chat_notes` when given."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    notes: set[str] = set()
    msgids: set[str] = set()  # already marked for translation: taken as they are
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "note":
                    _note_strings(keyword.value, found)
            name = _call_name(node)
            if name.endswith("_note"):
                for arg in node.args:
                    _note_strings(arg, notes)
            elif name in PROVIDER_RESULTS:
                for arg in node.args:
                    _strings(arg, found)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "note"):
            _note_strings(node.value, found)
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                _strings(arg, found)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            if any(isinstance(t, ast.Subscript) for t in node.targets):
                for item in node.value.elts:
                    _strings(item, found)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "__init__" and isinstance(node.func.value, ast.Call)
              and getattr(node.func.value.func, "id", "") == "super"):
            # an error class with its own message (LoginLocked, StepUpRequired)
            for arg in node.args:
                _strings(arg, found)
        elif isinstance(node, ast.FunctionDef) and "blocker" in node.name:
            # reasons an account cannot be deleted yet (privacy.register_deletion_check)
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None:
                    for item in ast.walk(inner.value):
                        if isinstance(item, ast.JoinedStr | ast.Constant):
                            _strings(item, found)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in GETTEXT_NAMES and node.args):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                msgids.add(first.value)
    notes = _finish(notes)
    if chat_notes is not None:
        chat_notes |= notes
    return _finish(found) | notes | msgids


def source_files() -> list[Path]:
    files = []
    for top in SCAN:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = set(path.relative_to(ROOT).parts[:-1])
            if parts & SKIP_DIRS or path.name in SKIP_FILES:
                continue
            files.append(path)
    return files


def scan() -> list[str]:
    """Every message template, sorted (stable output for the generated file)."""
    return scan_all()[0]


def scan_all() -> tuple[list[str], list[str]]:
    """Every message template, and those posted as chat system messages; sorted."""
    found: set[str] = set()
    chat_notes: set[str] = set()
    for path in source_files():
        found |= scan_file(path, chat_notes)
    return sorted(found), sorted(chat_notes)


def render_module(messages: list[str], chat_notes: list[str] | None = None) -> str:
    lines = [
        "# ruff: noqa: E501",
        '"""Generated by `python manage.py frontend_messages` from the apps\' services',
        "(frontend/domain_scan.py): the messages pages may show, for makemessages.",
        'Do not edit; regenerate after changing a service\'s messages."""',
        "",
        "from django.utils.translation import gettext_noop",
        "",
        "MESSAGES = [",
    ]
    lines += [f"    gettext_noop({message!r})," for message in messages]
    lines += ["]", ""]
    if chat_notes is not None:
        lines += ["# Posted into conversations as system messages (a subset of MESSAGES).",
                  "CHAT_NOTES = ["]
        lines += [f"    {message!r}," for message in chat_notes]
        lines += ["]", ""]
    return "\n".join(lines)
