"""Offline stand-in for the get-pip bootstrap script that ``ansible-test --venv`` downloads.

ansible-test fetches get-pip from a host this network cannot reach; it looks for a
cached copy in ~/.ansible/test/cache/get_pip_<version>.py first. This script does
the same job with the interpreter's own ensurepip, then lets pip install the
pinned packages ansible-test asks for (from the package index pip is set up for).
"""

import runpy
import subprocess
import sys

subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
# --no-setuptools and --no-wheel are get-pip options, not pip ones
sys.argv = ["pip", "install"] + [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
