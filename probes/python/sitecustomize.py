"""forkcast's Python probe loader, found as `sitecustomize` in the first PYTHONPATH entry.

With FORKCAST_PYTHON_OUT set it imports the probe (_forkcast_probe.py, beside this file). Always,
set or not, it then runs the sitecustomize that would have run without forkcast, under its own
name, so the target starts exactly as before. It never prints and never raises on its own account.
"""

import os
import sys


def _load_probe():
    # Write our own bytecode even under PYTHONDONTWRITEBYTECODE, so the probe compiles once per
    # run rather than once per interpreter (about 9 ms each on a slow VM); the target's own
    # modules are untouched.
    keep = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        import _forkcast_probe  # noqa: F401
    except Exception:
        pass
    finally:
        sys.dont_write_bytecode = keep


def _chain():
    """Runs the sitecustomize that would have run without us, under its own name."""
    from importlib.machinery import PathFinder

    here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    path = [p for p in sys.path if os.path.realpath(p or ".") != here]
    spec = PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    import importlib.util

    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        # As a failed import would leave it; site.py reports the error as it always did.
        sys.modules.pop("sitecustomize", None)
        raise


if os.environ.get("FORKCAST_PYTHON_OUT"):
    _load_probe()
_chain()
