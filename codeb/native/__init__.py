"""Bridges for native clients: how the tenant's own chat and phone servers ask CodeB who someone is (issue 16).

A passwordless person signs in to a native XMPP client or SIP phone with an app password
(codeb.accounts.app_passwords). The tenant's servers do not read CodeB's folder: they ask.
Each module here speaks one server's protocol and nothing of Flask:

- `xmpp_auth`: ejabberd's external authentication program (the extauth protocol on
  stdin/stdout) and the answers Prosody's `mod_auth_http` asks for (codeb.web.xmpp is its
  HTTP adapter), both "yes" or "no" and nothing more;
- `failures`: the failure windows that stop guessing, per account and per source.
"""
