# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persisted topologies: stored, and re-applied at boot and after a firewall reload (private).

netns_topology with ``persist: true`` stores the topology as given (its desired state) in
/etc/netfabric/topology-<name>.json and makes sure the host can re-apply it without Ansible:

- the engine: the files of this collection version that the restore imports, with the few
  ansible.module_utils files they need (argument validation), copied from the running module
  into /var/lib/netfabric/engine/<version>-<hash>/ with a small entry point, run by the same
  Python that runs the module (it has pyroute2 and nftables);
- netfabric-restore.service: at boot, after the network and the firewall services and before
  network-online.target, converges every stored topology with engine.converge_topology, the
  same path as a module run;
- a drop-in for nftables.service: Debian's /etc/nftables.conf starts with ``flush ruleset``,
  so after the service loads it (start, restart, reload) the same entry point converges the
  stored topologies again, in the same job;
- a drop-in for docker.service: Docker starts after the boot's restore and makes DOCKER-USER
  then, so once it has started the stored topologies converge again and open it.

The last topology that stops being persisted takes the unit, the drop-in and the engine
with it. ``main()`` is the entry point's code.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import sys
import time

from ansible_collections.netfabric.netns.plugins.module_utils import units
from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError, ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import LOCK_TIMEOUT, host_lock

COLLECTION_VERSION = "0.2.0"  # galaxy.yml's version (tests/unit checks that they agree)
STORE_DIR = "/etc/netfabric"
ENGINE_DIR = "/var/lib/netfabric/engine"
ENTRY = "netfabric_restore.py"
RESTORE_UNIT = "netfabric-restore.service"
FIREWALL_UNIT = "nftables.service"
DOCKER_UNIT = "docker.service"  # its drop-in opens DOCKER-USER once Docker made it (after the boot's restore)
DROPIN = "netfabric.conf"
MARKER = "/run/netfabric/restored"  # the stored topologies have been applied in this boot
# Ordered after these when they exist: their rules are loaded before ours come back.
FIREWALLS = ("nftables.service", "firewalld.service", "netfilter-persistent.service", "ufw.service")
RETRY_SECONDS = 30  # at boot, a topology whose uplink is not there yet is tried again this long
_STORED = re.compile(r"^topology-(.+)\.json$")
_PACKAGE = __name__.rsplit(".", 1)[0]  # ansible_collections.netfabric.netns.plugins.module_utils
# Packages on the way to the engine: shipped as empty __init__.py (regular packages, so that
# no other copy of ansible on the host's sys.path fills in for a missing file).
_STUBS = {"ansible", "ansible.module_utils"} | {_PACKAGE.rsplit(".", n)[0] for n in range(5)}

ENTRY_TEXT = '''\
"""netfabric.netns: re-applies the topologies stored in /etc/netfabric.

Run by netfabric-restore.service at boot and by nftables.service after it loads its ruleset
(netfabric.conf drop-in). Written by netns_topology (persist: true): do not edit.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ansible_collections.netfabric.netns.plugins.module_utils.persist import main  # noqa: E402

sys.exit(main(sys.argv[1:], HERE))
'''


def stored_path(name):
    return os.path.join(STORE_DIR, f"topology-{name}.json")


def document(name, topology, force, created):
    """The stored desired state: what the restore converges, as the module was given it."""
    doc = {"version": 1, "collection": f"netfabric.netns {COLLECTION_VERSION}", "name": name,
           "created": created, "force": bool(force), "topology": topology or {}}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def load_stored(directory=None):
    """(documents in the order they were first stored, errors) of the stored topologies."""
    directory = directory or STORE_DIR
    docs, errors = [], []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return docs, errors
    for entry in names:
        match = _STORED.match(entry)
        if not match:
            continue
        path = os.path.join(directory, entry)
        try:
            with open(path, encoding="utf-8") as handle:
                doc = json.load(handle)
            if doc.get("name") != match.group(1) or not isinstance(doc.get("topology"), dict):
                raise ValueError("not a stored topology of this name")
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: cannot be read ({exc}); skipped")
            continue
        docs.append(doc)
    docs.sort(key=lambda doc: (doc.get("created") or 0, doc["name"]))
    return docs, errors


# ------------------------------------------------------------------ the shipped engine


def _imports(name, source, is_package, everything):
    """Modules named by the import statements of a module: all of them for our own files, the
    top-level ones (not those under TYPE_CHECKING) for ansible's."""
    tree = ast.parse(source)

    def top(body):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                yield from top(node.body)
                yield from top(node.orelse)
                for handler in getattr(node, "handlers", ()):
                    yield from top(handler.body)
                yield from top(getattr(node, "finalbody", ()))
            else:
                yield node

    package = name if is_package else name.rpartition(".")[0]
    for node in (ast.walk(tree) if everything else top(tree.body)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _spec(name):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, AttributeError, ValueError):  # an attribute, not a module
        return None


def engine_files(root=__name__):
    """{relative path: text}: the modules the restore imports (ours and ansible's), found
    through the loaders of this process (the module's AnsiballZ payload, or the source tree),
    the package stubs, and the entry point."""
    files = {ENTRY: ENTRY_TEXT}
    for stub in _STUBS:
        files[stub.replace(".", "/") + "/__init__.py"] = ""
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen or name in _STUBS:
            continue
        seen.add(name)
        spec = _spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "get_source"):
            continue
        source = spec.loader.get_source(name)
        if source is None:  # made up by its package (six.moves): shipped with the package
            continue
        is_package = spec.submodule_search_locations is not None
        path = name.replace(".", "/") + ("/__init__.py" if is_package else ".py")
        files[path] = source
        for imported in _imports(name, source, is_package, name.startswith("ansible_collections.")):
            parts = imported.split(".")
            if parts[0] not in ("ansible", "ansible_collections"):
                continue
            for i in range(2, len(parts) + 1):  # the packages on the way are imported too
                todo.append(".".join(parts[:i]))
    return files


def _source_of(path):
    """The text this process would ship at path now (None when it has no such module)."""
    if path == ENTRY:
        return ENTRY_TEXT
    name = path[:-len(".py")].replace("/", ".")
    if name.endswith(".__init__"):
        name = name[:-len(".__init__")]
        if name in _STUBS:
            return ""
    spec = _spec(name)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_source"):
        return None
    return spec.loader.get_source(name)


def installed_engine():
    """The engine directory already on the host when it holds exactly what this process would
    ship (the same sources give the same imports, so the same files): checked file by file
    against its manifest, which is much cheaper than following the imports again."""
    try:
        entries = os.listdir(ENGINE_DIR)
    except FileNotFoundError:
        return None
    for entry in entries:
        if not entry.startswith(COLLECTION_VERSION + "-"):
            continue
        try:
            with open(os.path.join(ENGINE_DIR, entry, "MANIFEST.json"), encoding="utf-8") as handle:
                manifest = json.load(handle)
            files = manifest["files"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for path, digest in files.items():
            text = _source_of(path)
            if text is None or hashlib.sha256(text.encode()).hexdigest() != digest:
                break
        else:
            return entry
    return None


def engine_version(files):
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return f"{COLLECTION_VERSION}-{digest.hexdigest()[:12]}"


def _manifest(version, files):
    return json.dumps({"collection": "netfabric.netns", "version": version,
                       "files": {path: hashlib.sha256(text.encode()).hexdigest() for path, text in sorted(files.items())}},
                      indent=1, sort_keys=True) + "\n"


def _install_engine(target, files, manifest):
    """Write the engine into a temporary directory next to target, then rename it into place."""
    tmp = f"{target}.tmp{os.getpid()}"
    if os.path.lexists(tmp):
        units.remove_path(tmp)
    for path, text in files.items():
        full = os.path.join(tmp, path)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        with open(full, "w", encoding="utf-8") as handle:
            handle.write(text)
    with open(os.path.join(tmp, "MANIFEST.json"), "w", encoding="utf-8") as handle:
        handle.write(manifest)
    if os.path.lexists(target):
        units.remove_path(target)
    os.rename(tmp, target)


# ------------------------------------------------------------------ units


def _command(python, directory, mode):
    return [python, "-I", os.path.join(directory, ENTRY), mode]


def unit_text(python, directory):
    return (
        "# Written by netfabric.netns (netns_topology, persist: true); removed with the last persisted topology.\n"
        "[Unit]\n"
        f"Description=netfabric.netns: restore the namespace topologies stored in {STORE_DIR}\n"
        f"After=network.target {' '.join(FIREWALLS)}\n"
        "Before=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        f"ExecStart={units.exec_args(_command(python, directory, 'boot'))}\n"
        "TimeoutStartSec=5min\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def dropin_text(python, directory, docker=False):
    """The drop-in of nftables.service (docker: of docker.service) that converges the persisted
    topologies' rules again once the service has loaded its own."""
    # '-': a failure is logged and the firewall stays as loaded (a failed start would run ExecStop,
    # nftables' "flush ruleset"); '+': outside the service's sandbox (ProtectSystem, ProtectHome),
    # so namespaces made by the restore are the host's. Docker starts after network-online.target,
    # so after the boot's restore: once it has made its chains (before it reports ready), the
    # topologies converge again and open them (coexist.py).
    command = units.exec_args(_command(python, directory, "firewall"))
    why = ("# Docker makes its DOCKER-USER chain when it starts: the persisted topologies then open it.\n"
           if docker else
           "# /etc/nftables.conf starts with \"flush ruleset\": after the service loads it, the persisted\n"
           "# topologies' rules come back in the same job.\n")
    return ("# Written by netfabric.netns (netns_topology, persist: true); removed with the last persisted topology.\n"
            + why + "[Service]\n" + f"ExecStartPost=-+{command}\n" + ("" if docker else f"ExecReload=-+{command}\n"))


def plan(name, topology, force, python=None):
    """The file changes that store (topology given) or forget (None) a topology, and install
    or remove what the boot needs accordingly."""
    changes = units.Changes("persist")
    path = stored_path(name)
    if topology is not None:
        current = units.read_text(path)
        try:
            created = json.loads(current)["created"] if current else None
        except (ValueError, KeyError, TypeError):
            created = None
        changes.directory(STORE_DIR, 0o700)
        changes.file(path, document(name, topology, force, created or round(time.time(), 6)), 0o600, 0o700)
    else:
        changes.absent(path)
    others = [entry for entry in (os.listdir(STORE_DIR) if os.path.isdir(STORE_DIR) else [])
              if _STORED.match(entry) and entry != os.path.basename(path)]
    unit_path = os.path.join(units.UNIT_DIR, RESTORE_UNIT)
    wants = units.wanted_by("multi-user.target", RESTORE_UNIT)
    dropin_dir = os.path.join(units.UNIT_DIR, f"{FIREWALL_UNIT}.d")
    dropin = os.path.join(dropin_dir, DROPIN)
    docker_dir = os.path.join(units.UNIT_DIR, f"{DOCKER_UNIT}.d")
    docker_dropin = os.path.join(docker_dir, DROPIN)
    if topology is not None or others:
        version = installed_engine()
        if version is None:
            files = engine_files()
            version = engine_version(files)
            manifest = _manifest(version, files)
            target = os.path.join(ENGINE_DIR, version)
            changes.add(f"install the restore engine in {target} ({len(files)} files)",
                        lambda: _install_engine(target, files, manifest), target, None,
                        f"the restore engine {version}: {len(files)} files\n")
        directory = os.path.join(ENGINE_DIR, version)
        for entry in sorted(os.listdir(ENGINE_DIR)) if os.path.isdir(ENGINE_DIR) else []:
            if entry != version:
                changes.absent(os.path.join(ENGINE_DIR, entry))
        python = python or sys.executable
        changes.file(unit_path, unit_text(python, directory))
        changes.symlink(wants, unit_path)
        changes.file(dropin, dropin_text(python, directory))
        changes.file(docker_dropin, dropin_text(python, directory, docker=True))
    else:
        if units.booted() and units.active_state(RESTORE_UNIT) == "active":
            changes.add(f"stop {RESTORE_UNIT}", lambda: units.systemctl("stop", RESTORE_UNIT))
        changes.absent(wants)
        changes.absent(unit_path)
        changes.absent(dropin)
        changes.remove_dir_if_emptied(dropin_dir)
        changes.absent(docker_dropin)
        changes.remove_dir_if_emptied(docker_dir)
        changes.absent(ENGINE_DIR)
        changes.remove_dir_if_emptied(STORE_DIR)
    if units.booted() and changes.touches(units.UNIT_DIR):
        changes.add("systemctl daemon-reload", lambda: units.systemctl("daemon-reload"))
    return changes


def converge(name, topology, force=False, state="present", persist=False, check_mode=False, python=None,
             lock_timeout=LOCK_TIMEOUT):
    """netns_topology's persistence step, after the topology itself converged."""
    keep = state == "present" and persist
    with host_lock(timeout=lock_timeout):  # one run at a time decides whether the unit and the engine stay
        changes = plan(name, (topology or {}) if keep else None, force, python)
        if not check_mode:
            changes.apply()
            if units.booted():  # a firewall reload in this boot puts the rules back from now on
                _mark(keep or bool(load_stored()[0]))
    return {"changed": changes.changed, "actions": changes.actions, "diff": changes.diff(),
            "stored_topology": stored_path(name) if keep else None}


def _mark(present):
    if present:
        units.write_atomic(MARKER, "", 0o644, 0o755)
    elif os.path.exists(MARKER):
        os.unlink(MARKER)


# ------------------------------------------------------------------ the entry point


def _say(line):
    """One line of the journal (the restore's stdout)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def restore(mode, out=_say, retry=RETRY_SECONDS):
    """Converge every stored topology (boot: all of them, then the failed ones again until
    they succeed or retry seconds have passed; firewall: once, and only after the boot restore
    or a module run has applied them in this boot). Returns the exit status."""
    from ansible_collections.netfabric.netns.plugins.module_utils.engine import converge_topology

    if mode == "firewall" and not os.path.exists(MARKER):
        out("the stored topologies have not been applied in this boot yet: nothing to put back")
        return 0
    if mode == "boot":
        _mark(True)
    docs, errors = load_stored()
    for error in errors:
        out(error)
    deadline = time.monotonic() + (retry if mode == "boot" else 0)
    pending, failed = docs, []
    while pending:
        failed = []
        for doc in pending:
            try:
                result = converge_topology(doc["topology"], name=doc["name"], state="present", prune=False,
                                           force=bool(doc.get("force")))
            except NetfabricError as exc:
                failed.append((doc, exc.msg))
                continue
            except Exception as exc:  # pylint: disable=broad-exception-caught  # keep restoring the others
                failed.append((doc, f"{type(exc).__name__}: {exc}"))
                continue
            out(f"topology '{doc['name']}': {len(result['actions'])} change(s)")
            for line in result["actions"]:
                out(f"  {line}")
            for warning in result["warnings"]:
                out(f"  warning: {warning}")
        if not failed or time.monotonic() >= deadline:
            break
        for doc, message in failed:
            out(f"topology '{doc['name']}': {message} (trying again)")
        time.sleep(1)
        pending = [doc for doc, unused in failed]
    for doc, message in failed:
        out(f"topology '{doc['name']}': FAILED: {message}")
    return 1 if failed or errors else 0


def _foreign_imports(here):
    """ansible modules loaded from anywhere but the shipped engine (there must be none)."""
    return sorted(name for name, module in list(sys.modules.items())
                  if getattr(module, "__name__", "").split(".")[0] in ("ansible", "ansible_collections")
                  and getattr(module, "__file__", None) and not module.__file__.startswith(here + os.sep))


def main(argv, here=None):
    """netfabric_restore.py boot|firewall"""
    if len(argv) != 1 or argv[0] not in ("boot", "firewall"):
        sys.stderr.write("usage: netfabric_restore.py boot|firewall\n")
        return 2
    import ansible_collections.netfabric.netns.plugins.module_utils.engine  # noqa: F401  pylint: disable=unused-import
    foreign = _foreign_imports(here) if here else []
    if foreign:
        _say(f"the engine in {here} is incomplete: {', '.join(foreign)} came from elsewhere")
        return 3
    try:
        return restore(argv[0])
    except ValidationError as exc:
        _say(exc.msg)
        return 1
