"""What a caller may ask of a job, checked before anything is written.

Every check raises InvalidInput with the list of valid values, so a wrong value
is refused clearly and the store is left untouched.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from jobstore.errors import InvalidInput

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
        raise InvalidInput(f"unknown {name} {value!r}; valid values: {', '.join(valid)}")
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
            f"invalid model {value!r}: a model name is up to 128 letters, digits and . _ : / @ + -"
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
        raise InvalidInput(f"{name} {value!r} is not an absolute path")
    return path


def check_cwd(value: object) -> str:
    """An absolute path to an existing folder that this user can enter and read."""
    path = check_absolute_path("cwd", value)
    if not path.exists():
        raise InvalidInput(f"cwd {value!r} does not exist")
    if not path.is_dir():
        raise InvalidInput(f"cwd {value!r} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InvalidInput(f"cwd {value!r} cannot be read (permission denied)")
    return str(path.resolve())


def check_in_git_repository(cwd: str) -> str:
    """`cwd` if it is in a git work tree (`.git` in it or a folder above, as codex looks):
    codex reviews what git tracks, and fails outside a repository after it has started."""
    folder = Path(cwd)
    if any((parent / ".git").exists() for parent in (folder, *folder.parents)):
        return cwd
    raise InvalidInput(
        f"cwd {cwd!r} is not in a git repository: codex reviews the changes git tracks. "
        "Give a folder inside a repository (or run `git init` there first)"
    )


def check_git_ref(name: str, value: object) -> str:
    if not isinstance(value, str) or _GIT_REF_RE.fullmatch(value) is None or value.startswith("-"):
        raise InvalidInput(f"invalid {name} {value!r}: expected a git branch, tag or commit")
    return value


def effective_sandbox(approval_policy: str, sandbox: str | None) -> str:
    return sandbox or POLICY_SANDBOX[approval_policy]


def permissiveness(approval_policy: str, sandbox: str | None) -> int:
    """0 read-only, 1 workspace edits, 2 no sandbox: what a job may really do."""
    level = _PERMISSIVENESS[effective_sandbox(approval_policy, sandbox)]
    return max(level, 2 if approval_policy == "full-auto" and sandbox is None else 0)


@dataclass(frozen=True)
class RunOptions:
    """A validated request for a codex run (a new session or a continued one)."""

    prompt: str
    cwd: str
    approval_policy: str = DEFAULT_APPROVAL_POLICY
    sandbox: str | None = None
    model: str | None = None
    reasoning_effort: str | None = None
    session_id: str | None = None

    @classmethod
    def checked(
        cls,
        *,
        prompt: object,
        cwd: object,
        approval_policy: object = DEFAULT_APPROVAL_POLICY,
        sandbox: object = None,
        model: object = None,
        reasoning_effort: object = None,
        session_id: object = None,
    ) -> RunOptions:
        from jobstore.ids import check_session_id

        return cls(
            prompt=check_prompt(prompt),
            cwd=check_cwd(cwd),
            approval_policy=check_approval_policy(approval_policy),
            sandbox=check_sandbox(sandbox),
            model=check_model(model),
            reasoning_effort=check_reasoning_effort(reasoning_effort),
            session_id=None if session_id is None else check_session_id(session_id),
        )


@dataclass(frozen=True)
class ReviewOptions:
    """A validated request for `codex exec review`: exactly one target, or custom instructions."""

    cwd: str
    uncommitted: bool = False
    base: str | None = None
    commit: str | None = None
    title: str | None = None
    prompt: str = ""
    approval_policy: str = "suggest"
    model: str | None = None

    @classmethod
    def checked(
        cls,
        *,
        cwd: object,
        uncommitted: object = False,
        base: object = None,
        commit: object = None,
        title: object = None,
        prompt: object = None,
        approval_policy: object = "suggest",
        model: object = None,
    ) -> ReviewOptions:
        if uncommitted is None:
            uncommitted = False
        if not isinstance(uncommitted, bool):
            raise InvalidInput("uncommitted must be true or false")
        targets = [t for t in (uncommitted or None, base, commit) if t not in (None, "")]
        if len(targets) > 1:
            raise InvalidInput("give one review target: uncommitted, base or commit, not several")
        text = check_prompt(prompt, required=False) if prompt not in (None, "") else ""
        if text and targets:
            raise InvalidInput(
                "give either a review target (uncommitted, base, commit) or custom review "
                "instructions in prompt, not both: codex refuses the combination"
            )
        if title is not None and commit in (None, ""):
            raise InvalidInput("title goes with commit")
        if not targets and not text:
            uncommitted = True  # what a person most often wants reviewed
        options = cls(
            cwd=check_cwd(cwd),
            uncommitted=bool(uncommitted),
            base=None if base in (None, "") else check_git_ref("base", base),
            commit=None if commit in (None, "") else check_git_ref("commit", commit),
            title=None if title is None else check_prompt(title, name="title"),
            prompt=text,
            approval_policy=check_approval_policy(approval_policy),
            model=check_model(model),
        )
        check_in_git_repository(options.cwd)  # after the other checks: theirs come first
        return options

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
