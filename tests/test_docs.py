"""The documentation: the site builds with `mkdocs build --strict` (a broken link or a page
missing from the nav fails), docs/commands.md is what `python -m docs.gen_commands`
writes from the flag definitions today, and the README keeps its promises."""
import os
import re
import subprocess
import sys

from tests.conftest import ROOT

DOC_ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _python(code: str, timeout: int = 600):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_mkdocs_build_strict(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=DOC_ENV)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "site" / "commands" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert 'id="ktmjax.stages.offline_transfer"' in api   # mkdocstrings rendered the API


def test_commands_page_is_current():
    proc = subprocess.run([sys.executable, "-m", "docs.gen_commands", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stderr[-2000:] + "\ndocs/commands.md is stale: run "
                                  "`python -m docs.gen_commands` and commit the page")


def test_commands_page_check_fails_when_a_flag_changes():
    """The staleness check sees a changed default: the page is rendered with online's
    --rounds default altered, and --check must then fail."""
    proc = _python(
        "import sys\n"
        "from docs import gen_commands as g\n"
        "real = g.command_flags\n"
        "def changed(name):\n"
        "    doc, found = real(name)\n"
        "    for flag in found:\n"
        "        if name == 'online' and flag.name == 'rounds':\n"
        "            flag.default, flag.default_as_str = 123, \"'123'\"\n"
        "    return doc, found\n"
        "g.command_flags = changed\n"
        "sys.exit(g.main(['--check']))\n")
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert "stale" in proc.stderr


def test_readme_short_with_the_ci_commands():
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert len(readme.splitlines()) <= 150
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    install, test = 'pip install -e ".[test]"', "python -m pytest -q"
    assert f"{install} && {test}" in readme
    assert f"python -m {install}" in ci and test in ci
    assert "pip install -e . && python -m experiments.offline_transfer --benchmark=mini" in readme


def test_docs_cite_no_commit_or_outside_file():
    """No page cites a commit hash or a file outside the repository (../shared/...)."""
    pages = ["README.md"] + [os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                             if f.endswith(".md")]
    found = []
    for page in pages:
        text = open(os.path.join(ROOT, page)).read()
        for token in re.findall(r"\b[0-9a-f]{7,40}\b", text):
            if re.search(r"[a-f]", token) and re.search(r"[0-9]", token):
                found.append(f"{page}: {token}")
        found += [f"{page}: ../shared" for _ in re.findall(r"\.\./shared", text)]
    assert not found, found
