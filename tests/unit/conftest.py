"""Make the repository importable as ansible_collections.netfabric.netns for plain pytest."""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOT = os.path.join(REPO, ".build", "unit")


def _link_collection():
    if os.sep + "ansible_collections" + os.sep in REPO + os.sep:
        return  # already inside a collection tree (ansible-test units)
    target = os.path.join(ROOT, "ansible_collections", "netfabric", "netns")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.islink(target):
        os.symlink(REPO, target)
    sys.path.insert(0, ROOT)


_link_collection()
