"""The wheel, installed into a fresh virtual environment outside the repository, works on its own.

What README.md's "Installing" promises: ``python -m pip wheel --no-deps -w dist .`` builds a
wheel that, installed elsewhere, gives the ``lrspec`` command and the adapter packages.

How, without a network (CI reaches only the package registries, and this must stay fast):

* the sources (``pyproject.toml``, ``README.md``, ``lrspec/``, ``adapters/``) are copied into a
  temporary directory first, so that a ``build/`` left in the repository by an earlier build
  (setuptools reuses it, stale modules included) cannot leak into the wheel, and so that the
  build writes nothing into the repository;
* ``--no-build-isolation --no-index``: the build uses this venv's setuptools instead of
  fetching one into an isolated environment (build isolation would download setuptools from
  the registry each run: allowed, but slow and a network dependency for no gain here);
* the fresh venv is created ``--without-pip`` by this interpreter, and the wheel is installed
  into it with ``--no-deps --no-index`` by this venv's pip (``pip --python``). Its
  dependencies (pydantic, NumPy, torch, ...) come from this venv: a ``.pth`` file in the new
  venv lists this venv's site-packages directories. A plain path in a ``.pth`` file does not
  process the ``.pth`` files found there, so the editable install of the repository (an import
  hook installed by ``__editable__.lrspec-*.pth``) stays out, and ``--system-site-packages``
  would not help: it adds the base interpreter's site-packages, which has no torch.

The commands run from a temporary working directory with ``PYTHONPATH`` unset, and the test
checks that ``lrspec``, ``lrspec_torch`` and the CLI are imported from the new venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "lrspec", "adapters")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(argv)}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def source_modules(src: Path) -> set[str]:
    """The wheel paths the sources should give: every .py file of lrspec/ and adapters/lrspec_*/."""
    found = {str(p.relative_to(src)) for p in (src / "lrspec").rglob("*.py")}
    for pkg in (src / "adapters").glob("lrspec*"):
        found |= {str(p.relative_to(src / "adapters")) for p in pkg.rglob("*.py")}
    return {f for f in found if "__pycache__" not in f}


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repository(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=IGNORE)
        else:
            shutil.copy2(path, src / name)

    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(src)], tmp_path)
    (wheel,) = dist.glob("lrspec-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    assert shipped == source_modules(src), "the wheel's modules are not exactly the sources'"

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).stdout.strip()
    )
    ours = sysconfig.get_paths()
    (purelib / "_lrspec_test_deps.pth").write_text(f"{ours['purelib']}\n{ours['platlib']}\n", encoding="utf-8")
    run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    shutil.copy2(ROOT / "examples" / "finetune_cnn.yaml", work / "spec.yaml")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    lrspec = str(venv / "bin" / "lrspec")
    assert (venv / "bin" / "lrspec").read_text(encoding="utf-8").startswith(f"#!{python}")

    where = run(
        [
            str(python),
            "-c",
            "import lrspec, lrspec_torch, lrspec.tools.cli as c; print(lrspec.__file__); "
            "print(lrspec_torch.__file__); print(c.__file__)",
        ],
        work,
        env,
    ).stdout.split()
    assert len(where) == 3
    for f in where:
        assert Path(f).resolve().is_relative_to(purelib.resolve()), f"{f} is not from the installed wheel"

    out = run([lrspec, "validate", "spec.yaml"], work, env).stdout
    assert out == "spec.yaml: ok (adam, 2 groups)\n"
    out = run(
        [lrspec, "compile", "spec.yaml", "--target", "torch", "--model", "lrspec_torch.examples:mnist_cnn"], work, env
    )
    assert "built: torch.optim.Adam with 2 optimizer groups" in out.stdout, out.stdout
