"""The README's opening commands and its notebook example must stay true."""
import re

from conftest import ROOT


def test_readme_opens_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands[:2] == ["make report", "make test"]


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, re.S)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["bm_incidence"]["status"].isin([0, 1, 2]).all()
    assert namespace["fg"].summary.shape[0] == 5
