"""Reliability under load and faults, on loopback only (issue 10).

A *farm* of four server processes on one data folder stands in for an IIS web farm
over one App_Data share; a few client threads drive the flows of `client` through
servers chosen per request (no sticky sessions); afterwards `checks` proves that no
update was lost and nothing is torn. The short versions run in `make test`
(tests/soak/test_*.py, marker `soak`), the long one is `make soak`
(`python -m tests.soak`), which prints a summary.

    farm.py     start, watch (RSS), kill and stop the server processes
    server.py   one server process: create_app + waitress on 127.0.0.1
    client.py   the flows a person, an admin and a relying party walk, over HTTP
    load.py     the mixed load for a bounded time, the state it expects, the checks
"""
