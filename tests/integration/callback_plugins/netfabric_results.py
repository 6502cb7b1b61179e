"""Test-harness callback: every task result as one JSON line (see tests/integration/conftest.py)."""

from __future__ import annotations

DOCUMENTATION = """
name: netfabric_results
type: aggregate
short_description: Record every task result as JSON lines
description:
  - Appends one JSON object per finished task (ok, changed, failed, skipped, unreachable) to
    the file named by the E(NETFABRIC_RESULTS_FILE) environment variable.
  - Each object holds the module's return keys plus C(task), C(host), C(status), C(changed),
    C(failed), C(skipped), C(ignored), C(result) (the whole result dictionary), and only when
    there are any C(msg), C(diff), C(warnings) (texts) and C(error_chain) (the messages of
    a failure, outermost first).
  - ansible-core 2.19 puts C(exception) (a traceback, or "(traceback unavailable)") into every
    failed result, also for a clean fail_json; an unhandled exception in a module shows as a
    C(msg) that starts with C(Task failed) followed by C(Module failed).
  - Used by the integration tests of netfabric.netns; ansible.posix.json is not needed.
requirements:
  - ansible-core 2.19 or later
"""

import json
import os

from ansible.plugins.callback import CallbackBase


def _texts(summaries):
    return [getattr(getattr(item, "event", None), "msg", None) or str(item) for item in summaries or ()]


class CallbackModule(CallbackBase):
    """Append each task result to $NETFABRIC_RESULTS_FILE."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "netfabric_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status, ignore_errors=False):
        path = os.environ.get("NETFABRIC_RESULTS_FILE")
        if not path:
            return
        data = {key: value for key, value in result.result.items() if not key.startswith("_ansible")}
        entry = dict(data)
        entry.update(
            task=result.task_name,
            host=result.host.get_name(),
            status=status,
            changed=bool(data.get("changed", False)),
            failed=status in ("failed", "unreachable"),
            skipped=status == "skipped",
            ignored=bool(ignore_errors),
            result=data,
        )
        warnings = list(dict.fromkeys(_texts(result.warnings) + [w for w in data.get("warnings", ()) if isinstance(w, str)]))
        if warnings:
            entry["warnings"] = warnings
        if result.exception:  # "Task failed." -> "Module failed." -> the module's own message
            chain, event = [], result.exception.event
            while event is not None:
                chain.append(event.msg)
                event = event.chain.event if event.chain else None
            entry["error_chain"] = chain
        if "msg" in data:
            entry["msg"] = data["msg"]
        if "diff" in data:
            entry["diff"] = data["diff"]
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str, sort_keys=True) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed", ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
