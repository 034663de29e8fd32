#!/bin/sh
# A fast stand-in for `codex` (0.169.0) used by the benchmarks: what is measured is the
# server, not the model. It answers `--version` and `exec --help`, accepts the argv both
# servers pass (ours: exec --json --skip-git-repo-check --output-last-message F --sandbox M
# -c k=v -- PROMPT; the reference: exec --model M [-c k=v] [--sandbox M] [-C DIR]
# --skip-git-repo-check PROMPT), prints a short realistic `--json` event stream, writes the
# --output-last-message file if asked, and exits 0 at once.
# A prompt containing `@sleep=N@` sleeps N seconds between turn.started and the answer
# (a job that stays running); FAKE_CODEX_SLEEP=N does the same for every run.
case "$1" in
--version)
    echo "codex-cli 0.169.0"
    exit 0
    ;;
exec) ;;
*)
    echo "fake codex: only --version and exec are supported" >&2
    exit 2
    ;;
esac
shift
if [ "$1" = "--help" ]; then
    cat <<'HELP'
Run Codex non-interactively

Usage: codex exec [OPTIONS] [PROMPT] [COMMAND]

Commands:
  resume  Resume a previous session by id or pick the most recent with --last
  review  Run a code review against the current repository
  help    Print this message or the help of the given subcommand(s)

Arguments:
  [PROMPT]  Initial instructions for the agent. If not provided as an argument (or if `-` is used),
            instructions are read from stdin

Options:
  -c, --config <key=value>        Override a configuration value that would otherwise be loaded from
                                  `~/.codex/config.toml`
  -i, --image <FILE>...           Optional image(s) to attach to the initial prompt
  -m, --model <MODEL>             Model the agent should use
  -p, --profile <CONFIG_PROFILE>  Configuration profile from config.toml to specify default options
  -s, --sandbox <SANDBOX_MODE>    Select the sandbox policy to use when executing model-generated
                                  shell commands [possible values: read-only, workspace-write,
                                  danger-full-access]
      --dangerously-bypass-approvals-and-sandbox
                                  Skip all confirmation prompts and execute commands without
                                  sandboxing
  -C, --cd <DIR>                  Tell the agent to use the specified directory as its working root
      --add-dir <DIR>             Additional directories that should be writable
      --skip-git-repo-check       Allow running Codex outside a Git repository
      --ephemeral                 Do not persist the session
      --ignore-user-config        Do not load ~/.codex/config.toml
      --output-schema <FILE>      Path to a JSON Schema file describing the model's final response
      --color <COLOR>             Specifies color settings for use in the output [default: auto]
      --json                      Print events to stdout as JSONL
  -o, --output-last-message <FILE>
                                  Specifies file where the last message from the agent should be
                                  written
  -h, --help                      Print help (see a summary with '-h')
  -V, --version                   Print version
HELP
    exit 0
fi
last=""
prompt=""
nap="${FAKE_CODEX_SLEEP:-0}"
while [ $# -gt 0 ]; do
    case "$1" in
    -o | --output-last-message)
        last="$2"
        shift 2
        ;;
    -m | --model | -s | --sandbox | -c | --config | -C | --cd | -p | --profile | --add-dir | -i | --image | --color | --output-schema)
        shift 2
        ;;
    --)
        prompt="$2"
        shift $#
        ;;
    -*) shift ;;
    *)
        prompt="$1"
        shift
        ;;
    esac
done
case "$prompt" in
*@sleep=*@*)
    nap="${prompt#*@sleep=}"
    nap="${nap%%@*}"
    ;;
esac
tid=$(printf '0199a213-81c0-7800-8aa1-%012x' $$)
printf '{"type":"thread.started","thread_id":"%s"}\n{"type":"turn.started"}\n' "$tid"
if [ "$nap" != "0" ]; then
    sleep "$nap"
fi
msg="Done: I read the code and the change is in place; the tests pass."
printf '{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Looking at the code** to find the change."}}\n{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"%s"}}\n{"type":"turn.completed","usage":{"input_tokens":1204,"cached_input_tokens":1024,"cache_write_input_tokens":0,"output_tokens":87,"reasoning_output_tokens":32}}\n' "$msg"
if [ -n "$last" ]; then
    printf '%s\n' "$msg" >"$last"
fi
exit 0
