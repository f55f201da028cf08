"""`python -m codeb serve`: what it hands waitress and the app, locally and behind IIS."""

import pytest
import waitress

from codeb.cli import main

IIS = ["--host", "127.0.0.1", "--port", "50001", "--url-scheme", "https", "--no-echo-mail"]


@pytest.fixture
def served(monkeypatch, tmp_path):
    """Runs `serve` with waitress's serve replaced: what it was asked to serve, and how."""
    calls = []
    monkeypatch.setattr(waitress, "serve", lambda app, **options: calls.append((app, options)))
    monkeypatch.delenv("CODEB_ECHO_MAIL", raising=False)

    def run(*arguments: str):
        assert main(["--data", str(tmp_path), "serve", *arguments]) == 0
        (app, options), = calls
        calls.clear()
        return app, options

    return run


def test_locally_it_serves_http_and_echoes_mail(served, tmp_path):
    app, options = served()
    assert options == {"host": "127.0.0.1", "port": 8000, "threads": 8, "ident": "CodeB", "url_scheme": "http"}
    assert app.config["CODEB_ECHO_MAIL"] is True
    assert app.config["CODEB_DATA"] == str(tmp_path) and app.config["CODEB_PORT"] == 8000


def test_behind_iis_it_serves_https_requests_on_the_platform_port_without_echoing_mail(served):
    app, options = served(*IIS)
    assert (options["host"], options["port"], options["url_scheme"]) == ("127.0.0.1", 50001, "https")
    assert app.config["CODEB_ECHO_MAIL"] is False


@pytest.mark.parametrize(("environment", "flag", "echo"), [
    ("0", None, False), ("1", None, True), ("0", "--echo-mail", True), ("1", "--no-echo-mail", False),
])
def test_the_flag_overrides_codeb_echo_mail(served, monkeypatch, environment, flag, echo):
    monkeypatch.setenv("CODEB_ECHO_MAIL", environment)
    app, _ = served(*([flag] if flag else []))
    assert app.config["CODEB_ECHO_MAIL"] is echo


@pytest.mark.parametrize("arguments", [["--url-scheme", "ftp"], ["--port", "%HTTP_PLATFORM_PORT%"]])
def test_bad_arguments_are_refused(served, arguments, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", *arguments])
    assert exit_.value.code == 2
    assert "invalid" in capsys.readouterr().err
