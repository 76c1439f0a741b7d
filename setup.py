"""Build hook (the project's metadata lives in pyproject.toml).

The canonical protocol files are the top-level ``protocols/`` folder of the checkout. A wheel
must carry them too, so ``build_py`` copies ``protocols/**/*.toml`` into the built package as
``harness/_protocols/`` (plain copies, no symlinks), where ``harness.protocol.load_protocol``
finds them after a regular ``pip install .``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithProtocols(build_py):
    def run(self):
        super().run()
        src = ROOT / "protocols"
        dst = Path(self.build_lib) / "harness" / "_protocols"
        for f in sorted(src.rglob("*.toml")):
            target = dst / f.relative_to(src)
            self.mkpath(str(target.parent))
            self.copy_file(str(f), str(target))


setup(cmdclass={"build_py": BuildPyWithProtocols})
