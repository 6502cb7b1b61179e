# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record of what a topology made on a host, and what the other topologies there own
(private to the collection)."""

from __future__ import annotations

import json
import os

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import ensure_dir, remove, write_atomically
from ansible_collections.netfabric.netns.plugins.module_utils.topology import LISTS, claims, key_of, rank


def topology_names(directory):
    """The names of the topologies recorded in ``directory``."""
    try:
        files = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [f[len("topology-"):-len(".json")] for f in files if f.startswith("topology-") and f.endswith(".json")]


def recorded_topologies(directory):
    """{name: {state_file, resources (how many), annotations}} of the topologies on this host;
    a damaged state file is read as far as it goes (``warnings`` then says so)."""
    found = {}
    for name in topology_names(directory):
        state = StateFile(directory, name)
        record, warnings = state.load(tolerant=True)
        found[name] = {"state_file": state.path, "resources": len(record), "annotations": state.annotations,
                       "warnings": warnings}
    return found


def others_claims(directory, name):
    """{claim: (topology name, state file)} of the other topologies recorded on this host.
    Unreadable state files are left out (their own runs report them)."""
    found = {}
    for other in topology_names(directory):
        if other == name:
            continue
        state = StateFile(directory, other)
        try:
            record, unused = state.load(tolerant=True)
        except ValidationError:
            continue
        for entry in record.values():
            for claim in claims(entry["resource"]):
                found.setdefault(claim, (other, state.path))
    return found


class StateFile:
    """What a topology (by name) made on this host: /var/lib/netfabric/topology-<name>.json.

    One resource per line: ``{"module", "path", "params"}`` and, for a namespace the topology
    created, ``"created": true``; and the topology's ``annotations`` (free-form data its caller
    keeps with it, e.g. the fabric role's peers). Written atomically
    (hostfiles.write_atomically): before a run changes anything (everything it may make), and
    again when it is done.
    """

    VERSION = 2

    def __init__(self, directory, name):
        if not isinstance(name, str) or not name or "/" in name or name in (".", "..") or "\0" in name:
            raise ValidationError("name", f"topology name {name!r} must be a plain file name (no '/')")
        self.directory = directory
        self.path = os.path.join(directory, f"topology-{name}.json")
        self._saved = None  # (entries, annotations) as last read or written: a re-run writes nothing
        self.annotations = {}  # as read

    def load(self, tolerant=False):
        """({key: {"path", "params", "resource", "created"}}, warnings) of the last run; empty when
        there is none. A damaged file is an error, or with ``tolerant`` (a teardown) read as far as
        it goes, with a warning per entry left out."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return {}, []
        warnings = []
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
                raise ValueError("it holds no list of resources")
            entries = data["resources"]
            self.annotations = data.get("annotations") or {}
        except ValueError as exc:
            if not tolerant:
                raise self._damaged(str(exc)) from None
            entries = _salvage(text)
            warnings.append(f"the state file {self.path} is damaged ({exc}): read {len(entries)} entries from it")
        record = {}
        modules = {module: cls for unused, module, cls in LISTS}
        for i, entry in enumerate(entries):
            try:
                resource = modules[entry["module"]].from_params(entry["params"], entry["path"])
            except (KeyError, TypeError, AttributeError, ValidationError) as exc:
                if not tolerant:
                    raise self._damaged(f"entry {i} is not a resource this version knows ({exc!r})") from None
                warnings.append(f"the state file {self.path}: entry {i} left out, not a resource this version "
                                f"knows ({exc!r})")
                continue
            record[key_of(resource)] = {"path": entry["path"], "params": entry["params"], "resource": resource,
                                        "created": bool(entry.get("created"))}
        self._saved = None if warnings else (entries, self.annotations)
        return record, warnings

    def _damaged(self, why):
        return ValidationError("name", f"the state file {self.path} cannot be read: {why}. It records what this "
                                       "topology made: run it with state=absent to remove what can still be read, "
                                       "or move the file away to start afresh")

    def save(self, record, annotations=None):
        annotations = annotations or {}
        if not record and not annotations:
            self.remove()
            return
        modules = {cls: module for unused, module, cls in LISTS}
        entries = []
        for e in sorted(record.values(), key=lambda e: (rank(e["resource"]), e["path"])):
            entry = {"module": modules[type(e["resource"])], "path": e["path"], "params": e["params"]}
            if e.get("created"):
                entry["created"] = True
            entries.append(entry)
        if (entries, annotations) == self._saved:
            return
        ensure_dir(self.directory)
        # one resource per line: readable, salvageable line by line, and each line goes through
        # json's C encoder (an indented dump is pure Python: 0.1 s at 3,000 resources)
        lines = ",\n".join(json.dumps(entry, sort_keys=True) for entry in entries)
        write_atomically(self.path, f'{{"version": {self.VERSION}, "annotations": '
                                    f'{json.dumps(annotations, sort_keys=True)},\n"resources": [\n{lines}\n]}}\n')
        self._saved = (entries, annotations)

    def remove(self):
        self._saved = None
        remove(self.path)


def _salvage(text):
    """The entries of a damaged state file that can still be read, one per line."""
    entries = []
    for line in text.splitlines():
        line = line.strip().rstrip(",")
        if not line.startswith("{") or '"module"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
