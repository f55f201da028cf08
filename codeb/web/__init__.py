"""The web layer: `app.create_app` and the Flask blueprints (DESIGN: web).

Thin by intent: each view parses the request, calls the domain, renders. No
other package imports Flask.
"""
