"""Bridges for native clients: how the tenant's own chat and phone servers ask CodeB who someone is (issue 16).

A passwordless person signs in to a native XMPP client or SIP phone with an app password
(codeb.accounts.app_passwords). The tenant's servers do not read CodeB's folder: they ask.
Each module here speaks one server's protocol and nothing of Flask:

- `xmpp_auth`: ejabberd's external authentication program (the extauth protocol on
  stdin/stdout) and the answers Prosody's `mod_auth_http` asks for (codeb.web.xmpp is its
  HTTP adapter), both "yes" or "no" and nothing more;
- `sip_digest`: the SIP server's digest lookup (codeb.web.sip is its HTTP adapter): the HA1
  values of a user's SIP app passwords and optional password, the extension and the caller-ID
  name, and the server's report of a digest that matched none (deploy/kamailio/kamailio.cfg);
- `sip_credentials`: the shell phone's short-lived SIP credentials in the scheme Kamailio's
  `auth_ephemeral` verifies (codeb.web.phone hands them to the card);
- `failures`: the failure windows that stop guessing, per account and per source.
"""
