"""WSGI entry point: IIS/wfastcgi loads `app.app` (WSGI_HANDLER in web.config).

`python app.py` serves the data folder's tenants locally with waitress, like
`python -m codeb serve`.
"""

from codeb.web.app import create_app

app = create_app()

if __name__ == "__main__":
    from codeb.cli import main

    raise SystemExit(main(["serve"]))
