"""The README's example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(README), "exec"), {})
    score = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.3 < score < 1.0  # expression predicts held-out regions' FC on the default data


def test_readme_gives_the_two_setup_commands_that_ci_runs():
    text = README.read_text()
    commands = re.findall(r"```bash\n(pip install .*?)\n```", text)
    assert len(commands) == 2
    assert commands[0].endswith("skconn benchmark")
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
