import subprocess


def run(tmp_path, *args):
    db = str(tmp_path / "cli.sqlite")
    return subprocess.run(["inventory", "--db", db, *args], capture_output=True, text=True, check=True).stdout


def test_cli_add_and_list(tmp_path):
    assert run(tmp_path, "add", "A1", "apple", "3", "50") == "A1: 3\n"
    assert "apple" in run(tmp_path, "list")


def test_cli_value(tmp_path):
    run(tmp_path, "add", "A1", "apple", "3", "50")
    assert run(tmp_path, "value").strip().endswith("1.50")


def test_cli_info(tmp_path):
    assert run(tmp_path, "info").startswith("inventory 1.0.0")


def test_cli_export_import(tmp_path):
    run(tmp_path, "add", "A1", "apple", "3", "50")
    snapshot = str(tmp_path / "s.jsonl.gz")
    assert run(tmp_path, "export", snapshot) == "1\n"
    assert run(tmp_path, "--db", str(tmp_path / "other.sqlite"), "import", snapshot) == "1\n"
