"""What a caller may ask of a job, checked before anything is written: the one list of options.

`RunOptions` and `ReviewOptions` are the carriers from every door (each MCP tool, the CLI,
the TUI's form) to the job's record and to codex's argv (`codex_cli`). Each field is an
option: its name, type and default, with its `OptionSpec` (its check, the record fields
that keep it, its command-line help). A new option is one field here, then the tool's
signature and the form; the tools, the CLI and the store pick options by these names.

Every check raises InvalidInput with the list of valid values, so a wrong value
is refused clearly and the store is left untouched.
"""

from __future__ import annotations

import dataclasses
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from jobstore.echo import echoed
from jobstore.errors import InvalidInput
from jobstore.ids import check_session_id
from jobstore.record import JobRecord
from jobstore.repository import in_git_repository

# The policies users of the original design know, and what each allows; and codex's own
# two that ask a person (a command or patch codex wants waits for an answer: app-server only).
APPROVAL_POLICIES = ("suggest", "auto-edit", "full-auto", "untrusted", "on-request")
ASKING_POLICIES = ("untrusted", "on-request")
DEFAULT_APPROVAL_POLICY = "auto-edit"
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
REASONING_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")

# Sandbox each policy runs codex in; full-auto also turns approvals off entirely.
POLICY_SANDBOX = {
    "suggest": "read-only",
    "auto-edit": "workspace-write",
    "full-auto": "danger-full-access",
    "untrusted": "workspace-write",
    "on-request": "workspace-write",
}
# How a run drives codex: its app-server (JSON-RPC on stdio pipes: steer, interrupt,
# questions) or `codex exec --json` (none of those). Reviews always run as exec.
CODEX_PATHS = ("app-server", "exec")
DEFAULT_CODEX_PATH = "app-server"
_PERMISSIVENESS = {"read-only": 0, "workspace-write": 1, "danger-full-access": 2}

MAX_PROMPT_BYTES = 512 * 1024
_MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
_GIT_REF_RE = re.compile(r"[A-Za-z0-9._/@{}^~-]{1,200}")


def _choice(name: str, value: object, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in valid:
        raise InvalidInput(f"unknown {name} {echoed(value)}; valid values: {', '.join(valid)}")
    return value


def check_approval_policy(value: object) -> str:
    return _choice("approval_policy", value, APPROVAL_POLICIES)


def check_codex_path(value: object) -> str:
    return _choice("codex_path", value, CODEX_PATHS)


def check_sandbox(value: object) -> str | None:
    return None if value is None else _choice("sandbox", value, SANDBOXES)


def check_reasoning_effort(value: object) -> str | None:
    return None if value is None else _choice("reasoning_effort", value, REASONING_EFFORTS)


def check_model(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _MODEL_RE.fullmatch(value) is None:
        raise InvalidInput(
            f"invalid model {echoed(value)}: a model name is up to 128 letters, digits and . _ : / @ + -"
        )
    return value


def check_prompt(value: object, *, name: str = "prompt", required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    if required and not value.strip():
        raise InvalidInput(f"{name} is empty: say what codex should do")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid Unicode (it holds a lone surrogate)") from None
    if size > MAX_PROMPT_BYTES:
        raise InvalidInput(
            f"{name} is {size:,} bytes; the limit is {MAX_PROMPT_BYTES:,} bytes. "
            "Put large material in a file in cwd and refer to it"
        )
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n\r"), None)
    if bad is not None:
        raise InvalidInput(
            f"{name} holds the control character U+{ord(bad):04X}; only tab and newlines are allowed"
        )
    return value


def check_absolute_path(name: str, value: object) -> Path:
    """Text that names an absolute path (it need not exist)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} is required: the absolute path of the folder codex works in")
    if "\x00" in value:
        raise InvalidInput(f"{name} holds a NUL character")
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise InvalidInput(f"{name} {echoed(value)} is not an absolute path")
    return path


def check_cwd(value: object) -> str:
    """An absolute path to an existing folder that this user can enter and read."""
    path = check_absolute_path("cwd", value)
    try:
        path.stat()
    except FileNotFoundError:
        raise InvalidInput(f"cwd {echoed(value)} does not exist") from None
    except OSError as exc:  # a name too long, a loop of links, a folder we may not enter
        raise InvalidInput(f"cwd {echoed(value)} cannot be used: {exc.strerror}") from None
    if not path.is_dir():
        raise InvalidInput(f"cwd {echoed(value)} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InvalidInput(f"cwd {echoed(value)} cannot be read (permission denied)")
    return str(path.resolve())


def check_in_git_repository(cwd: str) -> str:
    """`cwd` if it is in a git work tree (`.git` in it or a folder above, as codex looks):
    codex reviews what git tracks, and fails outside a repository after it has started."""
    if in_git_repository(Path(cwd)):
        return cwd
    raise InvalidInput(
        f"cwd {echoed(cwd)} is not in a git repository: codex reviews the changes git tracks. "
        "Give a folder inside a repository (or run `git init` there first)"
    )


def check_git_ref(name: str, value: object) -> str:
    if not isinstance(value, str) or _GIT_REF_RE.fullmatch(value) is None or value.startswith("-"):
        raise InvalidInput(f"invalid {name} {echoed(value)}: expected a git branch, tag or commit")
    return value


def effective_sandbox(approval_policy: str, sandbox: str | None) -> str:
    return sandbox or POLICY_SANDBOX[approval_policy]


def permissiveness(approval_policy: str, sandbox: str | None) -> int:
    """0 read-only, 1 workspace edits, 2 no sandbox: what a job may really do."""
    level = _PERMISSIVENESS[effective_sandbox(approval_policy, sandbox)]
    return max(level, 2 if approval_policy == "full-auto" and sandbox is None else 0)


def _unless_empty(check: Callable[[object], str]) -> Callable[[object], str | None]:
    """`check`, with None and an empty text meaning "not given"."""
    return lambda value: None if value in (None, "") else check(value)


def check_optional_session_id(value: object) -> str | None:
    """None: a new session; an empty text is refused, never taken for "new"."""
    return None if value is None else check_session_id(value)


def check_optional_flag(name: str) -> Callable[[object], bool | None]:
    """True, false, or None (not said: a default decides)."""

    def check(value: object) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise InvalidInput(f"{name} must be true or false, not {echoed(value)}")

    return check


def check_flag(name: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be true or false, not {echoed(value)}")
        return value

    return check


@dataclass(frozen=True)
class OptionSpec:
    """How one option is checked, kept in the job's record, and offered on the command line."""

    check: Callable[[Any], Any]
    # The record's fields that keep it (the first is read back by `from_record`); none: the
    # carrier records it its own way.
    record_as: tuple[str, ...] = ()
    # The command-line flag's help; None: no flag of its own (e.g. a positional PROMPT).
    flag_help: str | None = None
    metavar: str | None = None


_SPEC = "option"


def option(
    check: Callable[[Any], Any],
    *,
    record_as: tuple[str, ...] = (),
    flag_help: str | None = None,
    metavar: str | None = None,
) -> dict[str, OptionSpec]:
    """A field's metadata: `field(default=..., metadata=option(...))`."""
    return {_SPEC: OptionSpec(check, record_as, flag_help, metavar)}


class JobOptions:
    """What the carriers share: checked from a caller's values field by field, kept in a
    record, read back from one. Subclasses are frozen dataclasses whose fields are options."""

    @classmethod
    def specs(cls) -> Iterator[tuple[dataclasses.Field[Any], OptionSpec]]:
        for each in dataclasses.fields(cls):  # type: ignore[arg-type]
            yield each, each.metadata[_SPEC]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(each.name for each, _ in cls.specs())

    @classmethod
    def given(cls, arguments: Mapping[str, object]) -> dict[str, object]:
        """The options among `arguments` (a tool's arguments, the CLI's), by name; the rest
        (a tool's wait, the CLI's --json) is not an option and is left out."""
        return {name: arguments[name] for name in cls.names() if name in arguments}

    @classmethod
    def checked(cls, **values: object) -> Self:
        """The options, each checked (in the order of the fields), then checked together.
        An option left out takes its default; one not known is refused."""
        unknown = [name for name in values if name not in cls.names()]
        if unknown:
            raise InvalidInput(f"unknown option {echoed(unknown[0])}; options: {', '.join(cls.names())}")
        checked: dict[str, Any] = {}
        for each, spec in cls.specs():
            default = None if each.default is dataclasses.MISSING else each.default
            checked[each.name] = spec.check(values.get(each.name, default))
        return cls(**checked)._checked_together()

    def _checked_together(self) -> Self:
        """Rules between options; the carrier as it is when there are none."""
        return self

    def record_fields(self) -> dict[str, Any]:
        """The job record's fields these options fill."""
        return {name: getattr(self, each.name) for each, spec in self.specs() for name in spec.record_as}

    @classmethod
    def from_record(cls, record: JobRecord) -> Self:
        """The options `record`'s job was started with, checked again (for a restart)."""
        return cls.checked(**cls._recorded(record))

    @classmethod
    def _recorded(cls, record: JobRecord) -> dict[str, object]:
        """The options the record keeps field by field."""
        return {each.name: getattr(record, spec.record_as[0]) for each, spec in cls.specs() if spec.record_as}


_CWD_HELP = "the folder codex works in (default: the current folder)"


@dataclass(frozen=True)
class RunOptions(JobOptions):
    """A validated request for a codex run (a new session or a continued one)."""

    prompt: str = field(metadata=option(check_prompt, record_as=("prompt",)))
    cwd: str = field(metadata=option(check_cwd, record_as=("cwd",), flag_help=_CWD_HELP))
    approval_policy: str = field(
        default=DEFAULT_APPROVAL_POLICY,
        metadata=option(
            check_approval_policy,
            record_as=("approval_policy",),
            flag_help=f"{', '.join(APPROVAL_POLICIES)} (default {DEFAULT_APPROVAL_POLICY}: edits in cwd, "
            "no approvals)",
            metavar="POLICY",
        ),
    )
    sandbox: str | None = field(
        default=None,
        metadata=option(
            check_sandbox,
            record_as=("sandbox",),
            flag_help=f"override the policy's sandbox: {', '.join(SANDBOXES)}",
            metavar="MODE",
        ),
    )
    model: str | None = field(
        default=None,
        metadata=option(
            check_model, record_as=("model",), flag_help="the model codex uses (default: codex's own)"
        ),
    )
    reasoning_effort: str | None = field(
        default=None,
        metadata=option(
            check_reasoning_effort,
            record_as=("reasoning_effort",),
            flag_help=", ".join(REASONING_EFFORTS),
            metavar="EFFORT",
        ),
    )
    # Recorded as the session the job resumes, and as its session from the start.
    session_id: str | None = field(
        default=None,
        metadata=option(
            check_optional_session_id,
            record_as=("resumes_session", "session_id"),
            flag_help="continue this codex session (a new turn)",
            metavar="ID",
        ),
    )
    # None: the store's setting (`codex-async config --worktree on|off`) decides at the start.
    worktree: bool | None = field(
        default=None,
        metadata=option(
            check_optional_flag("worktree"),
            record_as=("worktree",),
            flag_help="run in a git worktree of its own, applied or discarded on purpose "
            "(default: the store's setting)",
        ),
    )


# The review's options its record keeps in `review` (see `target`).
_TARGET_OPTIONS = ("uncommitted", "base", "commit", "title")


def _check_review_prompt(value: object) -> str:
    return check_prompt(value, required=False) if value not in (None, "") else ""


@dataclass(frozen=True)
class ReviewOptions(JobOptions):
    """A validated request for `codex exec review`: exactly one target, or custom instructions.
    The target is recorded as the record's `review`, the prompt as what the review is."""

    cwd: str = field(metadata=option(check_cwd, record_as=("cwd",), flag_help=_CWD_HELP))
    uncommitted: bool = field(
        default=False,
        metadata=option(check_flag("uncommitted"), flag_help="review staged, unstaged and new files"),
    )
    base: str | None = field(
        default=None,
        metadata=option(
            _unless_empty(lambda value: check_git_ref("base", value)),
            flag_help="review the changes against this branch",
            metavar="BRANCH",
        ),
    )
    commit: str | None = field(
        default=None,
        metadata=option(
            _unless_empty(lambda value: check_git_ref("commit", value)),
            flag_help="review the changes of this commit",
            metavar="SHA",
        ),
    )
    title: str | None = field(
        default=None,
        metadata=option(
            lambda value: None if value is None else check_prompt(value, name="title"),
            flag_help="commit title to show (with --commit)",
        ),
    )
    prompt: str = field(default="", metadata=option(_check_review_prompt))
    # Not a caller's choice: a review reads, it never edits.
    approval_policy: str = field(
        default="suggest", metadata=option(check_approval_policy, record_as=("approval_policy",))
    )
    model: str | None = field(
        default=None,
        metadata=option(
            check_model, record_as=("model",), flag_help="the model codex uses (default: codex's own)"
        ),
    )

    def _checked_together(self) -> ReviewOptions:
        targets = [t for t in (self.uncommitted or None, self.base, self.commit) if t is not None]
        if len(targets) > 1:
            raise InvalidInput("give one review target: uncommitted, base or commit, not several")
        if self.prompt and targets:
            raise InvalidInput(
                "give either a review target (uncommitted, base, commit) or custom review "
                "instructions in prompt, not both: codex refuses the combination"
            )
        if self.title is not None and self.commit is None:
            raise InvalidInput("title goes with commit")
        check_in_git_repository(self.cwd)
        if not targets and not self.prompt:
            return dataclasses.replace(self, uncommitted=True)  # what a person most often wants reviewed
        return self

    def record_fields(self) -> dict[str, Any]:
        return {**super().record_fields(), "prompt": self.describe(), "review": self.target()}

    @classmethod
    def from_record(cls, record: JobRecord) -> ReviewOptions:
        target = dict(record.review or {})
        custom = bool(target.pop("custom", False))
        return cls.checked(
            **cls._recorded(record),
            **{name: target[name] for name in _TARGET_OPTIONS if name in target},
            prompt=record.prompt if custom else None,
        )

    def describe(self) -> str:
        if self.prompt:
            return self.prompt
        if self.base:
            return f"Review changes against {self.base}"
        if self.commit:
            return f"Review commit {self.commit}"
        return "Review uncommitted changes"

    def target(self) -> dict[str, str | bool]:
        if self.base:
            return {"base": self.base}
        if self.commit:
            target: dict[str, str | bool] = {"commit": self.commit}
            if self.title:
                target["title"] = self.title
            return target
        if self.uncommitted:
            return {"uncommitted": True}
        return {"custom": True}
