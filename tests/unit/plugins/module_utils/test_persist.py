"""Persistence, units and the namespaces' files on plain data and in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import checks, netns_files, persist, units
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.service import Service

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_the_stored_version_is_galaxy_yml_s():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        version = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("version:"))
    assert persist.COLLECTION_VERSION == version


@pytest.mark.parametrize("argv, line", [
    (["/usr/bin/python3", "-I", "/var/lib/x/netfabric_restore.py", "boot"],
     "/usr/bin/python3 -I /var/lib/x/netfabric_restore.py boot"),
    (["/bin/sh", "-c", "echo \"$HOME\" 100%"], '/bin/sh -c "echo \\"$$HOME\\" 100%%"'),
    (["/opt/my app/run", "it's", "a\\b"], '"/opt/my app/run" "it\'s" "a\\\\b"'),
])
def test_exec_args_quote_and_escape_for_systemd(argv, line):
    assert units.exec_args(argv) == line


def test_a_line_break_cannot_reach_a_unit_file():
    with pytest.raises(ValueError):
        units.exec_args(["/bin/echo", "a\nExecStartPre=/bin/rm"])


def test_units_order_and_the_drop_in():
    unit = persist.unit_text("/usr/bin/python3", "/var/lib/netfabric/engine/v")
    assert "After=network.target nftables.service firewalld.service" in unit
    assert "Before=network-online.target" in unit and "WantedBy=multi-user.target" in unit
    assert "ExecStart=/usr/bin/python3 -I /var/lib/netfabric/engine/v/netfabric_restore.py boot" in unit
    dropin = persist.dropin_text("/usr/bin/python3", "/var/lib/netfabric/engine/v")
    command = "/usr/bin/python3 -I /var/lib/netfabric/engine/v/netfabric_restore.py firewall"
    assert f"ExecStartPost=-+{command}\n" in dropin and f"ExecReload=-+{command}\n" in dropin


def test_the_shipped_engine_imports_without_ansible_or_site_packages(tmp_path):
    files = persist.engine_files()
    assert "netfabric_restore.py" in files and "ansible/__init__.py" in files and files["ansible/__init__.py"] == ""
    assert "ansible_collections/netfabric/netns/plugins/module_utils/engine.py" in files
    assert "ansible/module_utils/common/arg_spec.py" in files
    assert not any(path.endswith("/basic.py") for path in files)  # not AnsibleModule: only what the engine needs
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(tmp_path, path)), exist_ok=True)
        with open(os.path.join(tmp_path, path), "w", encoding="utf-8") as handle:
            handle.write(text)
    script = (f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
              "from ansible_collections.netfabric.netns.plugins.module_utils import engine, persist, topology\n"
              "items, unused = topology.parse({'namespaces': [{'name': 'red', 'hosts': {'db': '10.0.0.1'}}]})\n"
              f"print(items[0][2].hosts, persist._foreign_imports({str(tmp_path)!r}))\n")
    # -S: no site-packages, so no ansible and no pyroute2 to fall back on
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(('db', '10.0.0.1'),) []"
    usage = subprocess.run([sys.executable, "-I", "-S", str(tmp_path / "netfabric_restore.py")], capture_output=True,
                           text=True, check=False)
    assert usage.returncode == 2 and "usage: netfabric_restore.py boot|firewall" in usage.stderr


def test_the_engine_version_follows_its_content():
    files = {"a.py": "x = 1\n", "b.py": ""}
    assert persist.engine_version(files) == persist.engine_version(dict(reversed(list(files.items()))))
    assert persist.engine_version(files) != persist.engine_version(dict(files, **{"a.py": "x = 2\n"}))
    assert persist.engine_version(files).startswith(persist.COLLECTION_VERSION + "-")


@pytest.fixture
def paths(tmp_path, monkeypatch):
    """persist's and units' directories under tmp_path; systemd not running."""
    monkeypatch.setattr(persist, "STORE_DIR", str(tmp_path / "etc/netfabric"))
    monkeypatch.setattr(persist, "ENGINE_DIR", str(tmp_path / "var/lib/netfabric/engine"))
    monkeypatch.setattr(units, "UNIT_DIR", str(tmp_path / "etc/systemd/system"))
    monkeypatch.setattr(units, "SYSTEMD_RUNNING", str(tmp_path / "run/systemd/system"))
    monkeypatch.setattr(persist, "MARKER", str(tmp_path / "run/netfabric/restored"))
    # every path the code computes must now be below tmp_path: nothing may reach the machine's /etc
    for path in (persist.stored_path("x"), units.wanted_by("multi-user.target", "x"), persist.load_stored.__defaults__):
        assert path is None or str(path).startswith(str(tmp_path)) or path == (None,), path
    return tmp_path


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, dirs, fs in os.walk(root) for f in fs + [
        x for x in dirs if os.path.islink(os.path.join(d, x))])


def test_store_again_forget_and_nothing_left(paths):
    topology = {"namespaces": [{"name": "red"}]}
    first = persist.plan("web", topology, False, "/usr/bin/python3")
    verbs = [a.split(": ", 1)[1].split(" ")[0] for a in first.actions]
    assert verbs == ["write", "install", "write", "link", "write", "write"]
    first.apply()
    files = tree(paths)
    assert "etc/netfabric/topology-web.json" in files and "etc/systemd/system/netfabric-restore.service" in files
    assert "etc/systemd/system/multi-user.target.wants/netfabric-restore.service" in files
    assert "etc/systemd/system/nftables.service.d/netfabric.conf" in files
    # Docker starts after the boot's restore: once it has made DOCKER-USER, the topologies open it
    docker = (paths / "etc/systemd/system/docker.service.d/netfabric.conf").read_text()
    assert "ExecStartPost=-+/usr/bin/python3 -I " in docker and docker.rstrip().endswith(" firewall")
    assert oct(os.stat(paths / "etc/netfabric").st_mode & 0o777) == "0o700"
    assert oct(os.stat(paths / "etc/netfabric/topology-web.json").st_mode & 0o777) == "0o600"
    stored = json.loads((paths / "etc/netfabric/topology-web.json").read_text())
    assert stored["topology"] == topology and stored["name"] == "web"
    assert not persist.plan("web", topology, False, "/usr/bin/python3").changed  # a re-run changes nothing
    second = persist.plan("web", {"namespaces": [{"name": "blue"}]}, False, "/usr/bin/python3")
    assert second.actions == [f"persist: write {paths}/etc/netfabric/topology-web.json"]
    second.apply()
    assert json.loads((paths / "etc/netfabric/topology-web.json").read_text())["created"] == stored["created"]
    persist.plan("db", topology, False, "/usr/bin/python3").apply()
    assert [doc["name"] for doc in persist.load_stored(persist.STORE_DIR)[0]] == ["web", "db"]  # as first stored
    forget = persist.plan("web", None, False, "/usr/bin/python3")
    assert forget.actions == [f"persist: remove {paths}/etc/netfabric/topology-web.json"]  # db still needs the rest
    forget.apply()
    last = persist.plan("db", None, False)
    last.apply()
    assert tree(paths) == [] and not os.path.exists(paths / "etc/netfabric")
    assert not persist.plan("db", None, False).changed


def test_a_new_interpreter_or_engine_rewrites_the_unit_and_replaces_the_old_engine(paths):
    persist.plan("web", {}, False, "/usr/bin/python3").apply()
    old = os.listdir(paths / "var/lib/netfabric/engine")
    os.rename(paths / "var/lib/netfabric/engine" / old[0], paths / "var/lib/netfabric/engine/0.1.0-old")
    again = persist.plan("web", {}, False, "/opt/venv/bin/python")
    texts = [a.split(": ", 1)[1] for a in again.actions]
    assert texts[0].startswith("install the restore engine in ")
    assert texts[1] == f"remove {paths}/var/lib/netfabric/engine/0.1.0-old"
    assert texts[2:] == [f"write {paths}/etc/systemd/system/netfabric-restore.service",
                         f"write {paths}/etc/systemd/system/nftables.service.d/netfabric.conf",
                         f"write {paths}/etc/systemd/system/docker.service.d/netfabric.conf"]
    again.apply()
    assert os.listdir(paths / "var/lib/netfabric/engine") == old
    assert "ExecStart=/opt/venv/bin/python -I" in (paths / "etc/systemd/system/netfabric-restore.service").read_text()


def test_unreadable_stored_files_are_reported_and_skipped(paths):
    os.makedirs(persist.STORE_DIR)
    (paths / "etc/netfabric/topology-bad.json").write_text("{")
    (paths / "etc/netfabric/topology-other.json").write_text(json.dumps({"name": "else", "topology": {}}))
    (paths / "etc/netfabric/notes.txt").write_text("mine")
    docs, errors = persist.load_stored(persist.STORE_DIR)
    assert docs == [] and len(errors) == 2 and all("skipped" in error for error in errors)


def test_resolv_conf_and_hosts_text():
    dns = checks.check_dns("dns", {"nameservers": ["192.168.15.1"], "search": ["lab.test"], "options": []})
    assert netns_files.resolv_conf("blue", dns).splitlines()[1:] == ["search lab.test", "nameserver 192.168.15.1"]
    assert netns_files.resolv_conf("blue", checks.check_dns("dns", {})) is None
    hosts = checks.check_hosts("hosts", {"web": "10.0.0.2", "db": "10.0.0.1"})
    assert netns_files.hosts_file("blue", hosts).splitlines()[1:] == [
        "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "10.0.0.1\tdb", "10.0.0.2\tweb"]
    assert netns_files.hosts_file("blue", ()) is None
    for value, message in (({"nameservers": ["x"]}, "dns.nameservers[0]: 'x' is not an IPv4 or IPv6 address"),
                           ({"servers": []}, "dns: unknown key 'servers'"),
                           ({"search": ["a", "a"]}, "dns.search[1]: 'a' is listed twice")):
        with pytest.raises(ValidationError) as exc:
            checks.check_dns("dns", value)
        assert str(exc.value).startswith(message)
    with pytest.raises(ValidationError, match="hosts: 'bad name' is not a host name"):
        checks.check_hosts("hosts", {"bad name": "10.0.0.1"})


def test_service_unit_text():
    service = Service.from_params({"name": "web", "netns": "blue", "command": "/usr/bin/python3 -m http.server 80",
                                   "environment": {"B": "x\"y", "A": "50%"}, "restart": "always", "user": "www-data"})
    text = service.text()
    assert service.unit == "netfabric-svc-web.service"
    assert "After=netfabric-restore.service\n" in text
    assert "NetworkNamespacePath=/run/netns/blue\n" in text
    assert "BindReadOnlyPaths=-/etc/netns/blue/resolv.conf:/etc/resolv.conf\n" in text
    assert "BindReadOnlyPaths=-/etc/netns/blue/hosts:/etc/hosts\n" in text
    assert "ExecStart=/usr/bin/python3 -m http.server 80\n" in text
    assert 'Environment="A=50%%"\nEnvironment="B=x\\"y"\n' in text
    assert "Restart=always\nUser=www-data\n" in text


@pytest.mark.parametrize("params, message", [
    ({"name": "web"}, "netns: is required when state is present"),
    ({"name": "web", "netns": "blue"}, "command: is required when state is present"),
    ({"name": "web", "netns": "blue", "command": "-/bin/true"}, "command: '-/bin/true': the program may not start"),
    ({"name": "a b", "netns": "blue", "command": "/bin/true"}, "name: 'a b' is not a valid service name"),
    ({"name": "web", "netns": "blue", "command": "/bin/true", "working_directory": "srv"},
     "working_directory: 'srv' is not an absolute path"),
    ({"name": "web", "netns": "blue", "command": "/bin/true", "environment": {"A-B": "1"}},
     "environment: 'A-B' is not a valid variable name"),
])
def test_service_refusals(params, message):
    with pytest.raises(ValidationError) as exc:
        Service.from_params(params)
    assert str(exc.value).startswith(message)


def test_an_absent_service_needs_only_its_name():
    assert Service.from_params({"name": "web", "state": "absent"}).unit == "netfabric-svc-web.service"
