from bench.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "version" in out and "data" in out


def test_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("talkbench 0.1.0")
