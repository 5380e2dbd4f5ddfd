"""The test suite. Imported before any conftest, so the setting below covers the project
and every test module.

Compiled and assertion-rewritten modules are kept in __pycache__ (git-ignored) even where
the environment sets PYTHONDONTWRITEBYTECODE=1, as this machine's does: otherwise every
test worker, and every console script a test starts, compiles the project and rewrites
~500 test modules from source on every run (~12 s of CPU a worker)."""

import sys

sys.dont_write_bytecode = False
