"""The wheel must ship every subpackage and the bundled data, not only work from a checkout."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "bmstats").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert config["package-dir"]["bmstats._datasets"] == "datasets"


def test_bundled_data_are_declared_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["bmstats._datasets"]
    assert "*.csv" in patterns
    assert (ROOT / "datasets" / "rotterdam.csv").exists()


def test_wheel_ships_the_bundled_data(tmp_path):
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("bmstats-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("rotterdam.csv", "gbsg.csv", "README.md"):
        assert f"bmstats/_datasets/{data}" in names
    assert "bmstats/cohort/__init__.py" in names
