import sys
sys.path.insert(0, "/work/main")
from tests.test_examples import *  # noqa
from tests.conftest_xvfb import xvfb_display  # noqa

@pytest.mark.xvfb
def test_peek(form, desktop_pack, tmp_path):
    with LocalServer(form_script(form, "Zoë", "Kraków")) as srv:
        proc = run_example("desktop_form.py", "--base-url", srv.base_url, "--runs", str(tmp_path / "r"), cwd=tmp_path)
    print(proc.stdout, proc.stderr)
    script = [Reply(call_text("press_keys", keys="ctrl+alt+delete")), Reply("I was not allowed.")]
    with LocalServer(script) as srv:
        proc = run_example("desktop_form.py", "x", "--base-url", srv.base_url, "--runs", str(tmp_path / "r"), cwd=tmp_path, stdin="n\n")
    print(proc.stdout, proc.stderr)
