"""The tools' argument types, each declared once with its description and limits.

Choices come from jobstore's own lists, so a schema's `enum` is always what the
store accepts. For the type checker each choice is a `str`; at run time it is a
`Literal` of the store's values, which is what FastMCP turns into an `enum`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from jobstore import (
    APPROVAL_POLICIES,
    DECISION_CHOICES,
    DEFAULT_APPROVAL_POLICY,
    REASONING_EFFORTS,
    SANDBOXES,
)

if TYPE_CHECKING:
    ApprovalPolicy = str
    Sandbox = str
    ReasoningEffort = str
    Decision = str
else:
    # Literal[("a", "b")] is Literal["a", "b"]: the store's tuples, in the store's order.
    ApprovalPolicy = Literal[APPROVAL_POLICIES]
    Sandbox = Literal[SANDBOXES]
    ReasoningEffort = Literal[REASONING_EFFORTS]
    Decision = Literal[DECISION_CHOICES]

MAX_WAIT_SECONDS = 600
DEFAULT_WAIT_SECONDS = 50
ONE_CALL_MAX_WAIT_SECONDS = 50
ONE_CALL_DEFAULT_WAIT_SECONDS = 45
MAX_LIMIT = 1_000
DEFAULT_LIMIT = 20
MAX_TAIL_LINES = 1_000
DEFAULT_TAIL_LINES = 40
MAX_BATCH = 100

POLICY_DOC = (
    "auto-edit (default): codex edits files in cwd (workspace-write sandbox) and runs commands "
    "without asking; suggest: read-only sandbox; full-auto: no sandbox at all; untrusted: "
    "workspace-write, and codex asks before any command that is not known safe (the job waits, "
    "status waiting, for codex_answer); on-request: workspace-write, codex asks when it wants more"
)

# ---- the eight run parameters shared by codex_start, codex and codex_batch (batch: all but the
# session, and many prompts); the defaults of the optional ones are the constants below.
PromptArg = Annotated[str, Field(description="what codex should do, in plain words")]
CwdArg = Annotated[str, Field(description="absolute path of an existing folder codex works in")]
PolicyArg = Annotated[ApprovalPolicy, Field(description=POLICY_DOC)]
SandboxArg = Annotated[
    Sandbox | None,
    Field(description="override the sandbox the approval_policy implies (still subject to the server's cap)"),
]
ModelArg = Annotated[str | None, Field(description="codex model name; default: codex's own configuration")]
EffortArg = Annotated[ReasoningEffort | None, Field(description="model reasoning effort")]
SessionArg = Annotated[
    str | None,
    Field(description="continue this codex session (from codex_start, codex_poll or codex_sessions)"),
]
WorktreeArg = Annotated[
    bool | None,
    Field(
        description="run in a git worktree of its own (branch codex/<job id>) started from what the "
        "repository holds now, uncommitted changes included; then codex_apply or codex_discard it. "
        "Default: the store's setting (off unless `codex-async config --worktree on`)"
    ),
]
DEFAULT_POLICY: ApprovalPolicy = DEFAULT_APPROVAL_POLICY

PromptsArg = Annotated[
    list[str], Field(min_length=1, max_length=MAX_BATCH, description="one codex job per prompt")
]
WaitSecondsArg = Annotated[
    float,
    Field(
        ge=0,
        le=ONE_CALL_MAX_WAIT_SECONDS,
        allow_inf_nan=False,
        description="how long to wait for the answer in this call",
    ),
]

# ---- reading jobs
JobIdArg = Annotated[str, Field(description="the job id returned by codex_start (or shown by codex_list)")]
LimitArg = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="how many to return")]
TailLinesArg = Annotated[int, Field(ge=1, le=MAX_TAIL_LINES, description="how many lines of output to show")]
IncludeDiffArg = Annotated[
    bool,
    Field(
        description="also return what the job changed in its git repository (from its start to its "
        "end, shell edits included), as a unified diff"
    ),
]
TimeoutArg = Annotated[
    float,
    Field(
        gt=0,
        le=MAX_WAIT_SECONDS,
        allow_inf_nan=False,
        description="longest wait in seconds; keep it under the client's tool timeout (~60 s)",
    ),
]
FolderFilterArg = Annotated[str | None, Field(description="only jobs in this folder or below it")]

# ---- codex_review's targets
UncommittedArg = Annotated[bool | None, Field(description="review staged, unstaged and new files")]
BaseArg = Annotated[str | None, Field(description="review the changes against this branch")]
CommitArg = Annotated[str | None, Field(description="review the changes of this commit")]
TitleArg = Annotated[str | None, Field(description="commit title to show (with commit)")]
ReviewPromptArg = Annotated[str | None, Field(description="custom review instructions (instead of a target)")]

# ---- talking to a running job
SteerMessageArg = Annotated[
    str, Field(description="your message to codex: it reads it in its running turn and answers it")
]
DecisionArg = Annotated[
    Decision, Field(description="approve: codex does what it asked; deny: it does not, and goes on")
]
