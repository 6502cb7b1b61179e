"""make docs: the collection's documentation site, HTML, in .build/docs/build/html.

The Ansible community's own tooling builds it: antsibull-docs lints every plugin's and
role's documentation (lint-collection-docs --plugin-docs), sets up the Sphinx site
(sphinx-init) and writes a page per module, filter and role (collection --use-current,
from the collection as `make install` put it in .collections); the Markdown pages (README,
docs/*.md, the roles' READMEs) join them as guides, read by myst-parser, with Mermaid
diagrams through sphinxcontrib-mermaid. Sphinx runs with -W: any warning (a broken
reference, a page outside every toctree, a bad option reference) fails the build.

References to the Ansible docsite (common return values, action plugins, configuration
settings) resolve through a local intersphinx inventory of those few labels written
here: the build needs no network. A module that refers to another label of that docsite
fails the build until the label is added to ANSIBLE_LABELS.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
COLLECTIONS = os.path.join(REPO, ".collections")
INSTALLED = os.path.join(COLLECTIONS, "ansible_collections", "netfabric", "netns")
SITE = os.path.join(REPO, ".build", "docs")
NAME = "netfabric.netns"
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
REPOSITORY = "https://example.invalid/netfabric/netns/-/blob/main/"  # galaxy.yml's repository

# label -> (page of the Ansible docsite, title): what antsibull-docs' pages refer to
ANSIBLE_LABELS = {
    "action_plugins": ("plugins/action.html#action-plugins", "Action plugins"),
    "common_return_values": ("reference_appendices/common_return_values.html#common-return-values",
                             "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html#ansible-configuration-settings",
                                       "Ansible Configuration Settings"),
}

# The guides: (Markdown file in the repository, page name in the site), in the order of the site's toctree.
PAGES = [
    ("README.md", "readme"),
    ("docs/index.md", "index"),
    ("docs/architecture.md", "architecture"),
    ("docs/nat.md", "nat"),
    ("docs/topology.md", "topology"),
    ("docs/diagrams.md", "diagrams"),
    ("docs/testing.md", "testing"),
    ("roles/topology/README.md", "role-topology"),
    ("roles/fabric/README.md", "role-fabric"),
    ("bench/results.md", "bench"),
]

INDEX = """\
.. _docsite_root_index:

netfabric.netns
===============

Declarative Linux network-namespace topologies with Ansible: namespaces, veth cables, bridges,
addresses, routes, NAT, port forwards, isolation policies and fabrics across hosts.

.. toctree::
   :maxdepth: 1
   :caption: Guides

{guides}

.. toctree::
   :maxdepth: 2
   :caption: Reference

   collections/index

.. toctree::
   :maxdepth: 1
   :caption: Plugin indexes
   :glob:

   collections/index_*

.. toctree::
   :maxdepth: 1
   :caption: Reference indexes

   collections/environment_variables
"""

CONF = """
# --- netfabric.netns (tools/docs.py): offline, Markdown guides, Mermaid diagrams
project = 'netfabric.netns'
copyright = 'netfabric.netns contributors'
title = html_short_title = 'netfabric.netns'
extensions += ['myst_parser', 'sphinxcontrib.mermaid']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 4
myst_fence_as_directive = ['mermaid']
intersphinx_mapping = {'ansible_devel': (%r, '../ansible_devel.inv')}  # relative to rst/
""" % ANSIBLE_DOCS


def run(*argv, cwd=None):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, PATH=BIN + os.pathsep + os.environ["PATH"])
    print("docs:", " ".join(argv), flush=True)
    subprocess.run(argv, cwd=cwd, env=env, check=True)


def inventory(path):
    """A Sphinx intersphinx inventory (version 2) of ANSIBLE_LABELS."""
    lines = "".join(f"{label} std:label -1 {uri} {title}\n" for label, (uri, title) in sorted(ANSIBLE_LABELS.items()))
    with open(path, "wb") as handle:
        handle.write(b"# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
                     b"# The remainder of this file is compressed using zlib.\n")
        handle.write(zlib.compress(lines.encode()))


def guide(source, page, pages):
    """A Markdown file as a site page: links to the other guides point at their pages, links to
    other files of the repository at the repository."""
    base = os.path.dirname(source)
    with open(os.path.join(REPO, source), encoding="utf-8") as handle:
        text = handle.read()

    def link(match):
        target, anchor = match.group(2), match.group(3) or ""
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path = os.path.normpath(os.path.join(base, target))
        if path in pages:
            return f"]({pages[path]}.md{anchor})"
        return f"]({REPOSITORY}{path}{anchor})"

    lines, fenced = [], False
    for line in re.sub(r"\]\((?!<)(([^)#\s]+)(#[^)\s]*)?)\)", link, text).splitlines():
        if line.lstrip().startswith("```"):
            if not fenced and line.strip() == "```":
                line += "text"  # a block without language is not YAML (Sphinx's default here)
            fenced = not fenced
        lines.append(line)
    return "\n".join(lines) + "\n"


def main():
    if not os.path.isfile(os.path.join(INSTALLED, "MANIFEST.json")):
        sys.exit(f"docs: {NAME} is not installed in {COLLECTIONS}: run make install")
    run("antsibull-docs", "lint-collection-docs", "--plugin-docs", ".", cwd=INSTALLED)
    shutil.rmtree(SITE, ignore_errors=True)
    os.makedirs(SITE, mode=0o755)
    os.chmod(SITE, 0o755)  # antsibull-docs wants its directories writable by their owner only (umask aside)
    index = os.path.join(REPO, ".build", "docs-index.rst")
    pages = dict(PAGES)
    with open(index, "w", encoding="utf-8") as handle:
        handle.write(INDEX.format(guides="\n".join(f"   guides/{page}" for unused, page in PAGES)))
    run("antsibull-docs", "sphinx-init", "--use-current", "--fail-on-error", "--index-rst-source", index,
        "--dest-dir", SITE, NAME)
    with open(os.path.join(SITE, "conf.py"), "a", encoding="utf-8") as handle:
        handle.write(CONF)
    inventory(os.path.join(SITE, "ansible_devel.inv"))
    rst = os.path.join(SITE, "rst")
    os.makedirs(rst, exist_ok=True)
    os.chmod(rst, 0o755)
    run("antsibull-docs", "--config-file", "antsibull-docs.cfg", "collection", "--cleanup", "everything",
        "--fail-on-error", "--use-current", "--dest-dir", "rst", NAME, cwd=SITE)
    os.makedirs(os.path.join(rst, "guides"))
    for source, page in PAGES:
        with open(os.path.join(rst, "guides", page + ".md"), "w", encoding="utf-8") as handle:
            handle.write(guide(source, page, pages))
    run("sphinx-build", "-M", "html", "rst", "build", "-c", ".", "-W", "--keep-going", "-q", cwd=SITE)
    print(f"docs: {os.path.join(SITE, 'build', 'html', 'index.html')}")


if __name__ == "__main__":
    main()
