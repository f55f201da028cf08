"""Every folder, document, index and record kind of a tenant's folder, by name.

The one list of what `App_Data/<tenant>/` holds (DESIGN: data), so that a
backup, a restore or an erasure can be reasoned about from one page, and no
two modules spell one kind two ways. The values are the names on disk: they
must not change, or existing tenants lose their data.
"""

import hashlib

# -- documents and folders -------------------------------------------------------

TENANT = "tenant"            # tenant.json: the tenant's settings
USERS = "users"              # users/<login>.json: one account each
CLIENTS = "clients"          # clients/<client_id>.json: relying parties
KEYS = "keys"                # keys/signing.json, keys/session.json: never served
SIGNING_KEYS = "signing"
SESSION_SECRET = "session"
SAML_KEYS = "saml"           # keys/saml.json: the SAML service provider's key and certificate
UPSTREAM_CLIENT_KEY = "upstream-client-key"  # keys/upstream-client-key.json: signs private_key_jwt assertions
WALLET_VERIFIER = "wallet-verifier"  # keys/wallet-verifier.json: signs OpenID4VP requests, with its certificate chain
I18N = "i18n"                # i18n/<lang>.json: languages the tenant added
AUDIT = "audit"              # audit/<YYYY-MM>.jsonl: append-only security log
INDEX = "index"              # index/<name>/<hash>.json and index/directory/<xx>.json
TRANSIENT = "transient"      # transient/<kind>/<id>.json: records that expire
DELETED_LOGINS = "deleted-logins"  # deleted-logins/<sha256 of the login>.json: when it was deleted, no more
LEGAL_HOLDS = "legal-holds"  # legal-holds/<person>.json: a deleted account whose files an admin kept
UPSTREAMS = "upstreams"      # upstreams/<id>.json: corporate identity providers (codeb.upstreams)
WALLET = "wallet"            # wallet/<set>/<id>.json: what the tenant trusts for the EU Wallet (codeb.tenants.wallet)
WALLET_ANCHORS = "anchors"   # wallet/anchors/: PID providers' CAs, whose credentials it accepts
WALLET_STATUS_SIGNERS = "status-signers"  # wallet/status-signers/: CAs of who may sign a Token Status List
BRAND = "brand"              # brand/current.json: logo, colour, favicon, mail texts (codeb.tenants.branding)
BRAND_DOC = "current"

# -- the host's own site: App_Data/_host/ (never a tenant: a tenant name has no `_`) ---------
#
# The only things about a tenant outside its folder are its host-index entries, made again
# from its tenant.json by `python -m codeb tenant reindex` after a restore.
HOST_SITE = "_host"          # App_Data/_host/: the host-level site (tenant sign-up), its spool and indexes
HOST_NAMES = "hosts"         # _host/hosts/<key_id(host)>.json: which tenant a host name belongs to
PROVISIONING = "provisioning"  # _host/provisioning/requests/<id>.json: sign-up requests and their journal
PROVISIONING_REQUESTS = "requests"
SITE_SETTINGS = "site"       # _host/site.json: the host site's name, parent domain, terms and limits (operator's)

# users/_admins: the tenant-wide lock under which a change that could leave the tenant
# without an admin is checked and made (never a login's: logins do not start with "_").
ADMINS_LOCK = "_admins"

# The workspace (codeb.rooms, codeb.notify.push)
CHANNELS = "channels"        # channels/<id>/channel.json, messages/<segment>.jsonl, read/<person>.json
MEETINGS = "meetings"        # meetings/<id>.json: a meeting; its chat is a channel of kind "meeting"
GUESTS = "guests"            # guests/<id>.json (a guest), guests/invites/<id>.json (an invite: its link's hash)
PUSH = "push"                # push/<person>/<subscription id>.json: one account's Web Push subscriptions
MEMBERSHIPS = "memberships"  # memberships/<person>.json: the channels a person is in (derived; channel.json rules)
TURN = "turn"                # keys/turn.json: the TURN REST shared secret, current and previous
VAPID = "vapid"              # keys/vapid.json: the tenant's VAPID key pair for Web Push
GUEST_INVITE_KEY = "guest-invites"  # keys/guest-invites.json: signs guest hotlinks
XMPP_AUTH_SECRET = "xmpp-auth"  # keys/xmpp-auth.json: what the tenant's XMPP server sends to the HTTP auth endpoint
SIP_LOOKUP_SECRET = "sip-lookup"  # keys/sip-lookup.json: what the tenant's SIP server sends to the digest lookup
SIP_EPHEMERAL_SECRET = "sip-ephemeral"  # keys/sip-ephemeral.json: signs the shell phone's ephemeral SIP credentials
DPOP_NONCE_KEY = "dpop-nonce"  # keys/dpop-nonce.json: makes and checks the stateless DPoP nonces (codeb.oidc.dpop)
WEBAUTHN_CHALLENGE_KEY = "webauthn-challenge"  # keys/webauthn-challenge.json: MACs the passkey challenge ids
GUEST_INVITES = "invites"    # guests/invites/<id>.json, inside GUESTS

# Per-person files that GDPR erasure acts on: <kind>/<person>/..., where <person> is
# `person(sub)`: keyed by the account's sub, never by its login, which a later account may get.
RECORDINGS = "recordings"
TRANSCRIPTS = "transcripts"
CHAT_ARCHIVES = "chat-archives"
ERASABLE = (RECORDINGS, TRANSCRIPTS, CHAT_ARCHIVES)


def person(sub: str) -> str:
    """The folder name of one person's files: a lowercase hash of the sub, because a sub may
    start with `-` and differs from another only in case, which Windows folder names do not tell apart."""
    return "p" + hashlib.sha256(sub.encode("utf-8")).hexdigest()[:40]

# -- indexes: key -> login ---------------------------------------------------------

BY_EMAIL = "email"
BY_SUB = "sub"
BY_EXTENSION = "ext"
BY_CREDENTIAL = "credential"  # passkey credential id
DIRECTORY = "directory"       # the admin's user list, in 256 shards
BY_UPSTREAM = "upstream"      # an upstream identity (issuer, subject) linked to an account
# codeb.notify.push: a Web Push endpoint -> the `person(sub)` whose subscription it is now
# (a browser's one subscription belongs to the account last signed in there, never to two)
BY_PUSH_ENDPOINT = "push-endpoint"

# -- transient records ---------------------------------------------------------------

SESSIONS = "sessions"                  # signed-in browser sessions
INTERACTIONS = "interactions"          # authorization requests waiting for a sign-in
UPSTREAM_REQUESTS = "upstream-requests"  # a browser sent to an upstream: its state (hashed), nonce, verifier
UPSTREAM_ARRIVALS = "upstream-arrivals"  # a SAML identity verified at the ACS, until its browser comes for it
SAML_ASSERTIONS = "saml-assertions"    # ids of assertions used (hashed), until they expire: no replay
UPSTREAM_LOGOUTS = "upstream-logouts"  # a browser sent to sign out at a company's IdP: its state (hashed)
WALLET_REQUESTS = "wallet-requests"    # an OpenID4VP request: nonce, state, response key, its browser
WALLET_ARRIVALS = "wallet-arrivals"    # a presentation verified, until its browser comes for it (no claim kept after)
WALLET_STATUS_LISTS = "wallet-status"  # Token Status Lists fetched, for their `ttl`
MAGIC_LINKS = "magic-links"            # hashes of mailed one-time links (sign-in, sign-up, invitation)
MAGIC_PENDING = "magic-pending"        # a browser waiting for its magic link: number, HMAC of its code
WEBAUTHN_CHALLENGES = "webauthn"       # spent passkey challenges, each kept until it would have expired
PASSWORD_FAILURES = "password-failures"
BREAKGLASS = "breakglass"              # hashes of superuser links
CODES = "codes"                        # authorization codes (hashed)
REFRESH_TOKENS = "refresh-tokens"      # refresh tokens (hashed) from before refresh chains; read only
REFRESH_CHAINS = "refresh-chains"      # one per grant: its current refresh token's hash, the spent ones
SPENT_CODES = "spent-codes"            # markers that recognise a replayed code
SPENT_REFRESH = "spent-refresh"        # markers of refresh tokens from before refresh chains; read only
GRANTS = "grants"                      # how each grant's sign-in happened
REVOKED_GRANTS = "revoked-grants"
AUDIT_REPEATS = "audit-repeats"        # repeated failure events being counted before their line
SHOWN_SECRETS = "shown-secrets"        # a new client secret, sealed, until the admin's page shows it once
HANDOFFS = "handoffs"                  # one-time hand-off tokens (hashed) from the host site's progress page
SPENT_HANDOFFS = "spent-handoffs"      # hand-off tokens used, until they would have expired: a replay is told
# The OpenID Provider's protocol breadth (codeb.oidc): private_key_jwt assertions used (their
# `jti`, hashed, until they expire: no replay), pushed authorization requests (RFC 9126) until
# used or expired, DPoP proofs used (RFC 9449 §11.1), the DPoP nonces handed out, and
# back-channel logout: per person, which clients their sessions signed in (`rp-<person>`), and
# the logouts waiting for their client (`job-<id>`, a queue with retries; codeb.oidc.backchannel).
CLIENT_ASSERTIONS = "client-assertions"
PUSHED_REQUESTS = "pushed-requests"
DPOP_PROOFS = "dpop-proofs"
BACKCHANNEL_QUEUE = "backchannel-logouts"
# The host site's (in `_host/transient/`): the sign-up page's verification links (hashed), and
# what each spent link made (its request), so a link opened again says so.
SITE_VERIFICATIONS = "site-verifications"
SITE_VERIFIED = "site-verified"

GUEST_SESSIONS = "guest-sessions"      # a guest's browser session (its token hashed)
MEETING_PRESENCE = "meeting-presence"  # who is in a meeting room now: a heartbeat each
MEETING_SIGNALS = "meeting-signals"    # WebRTC offers, answers and candidates waiting for their peer
CHANNEL_VIEWERS = "channel-viewers"    # a page shows a channel now: no push for its messages (codeb.rooms.alerts)

# -- rate-limit counters ---------------------------------------------------------------

MAGIC_PER_CLIENT = "magic-client"
MAGIC_PER_ADDRESS = "magic-address"    # keyed by mailbox: the address without +tag, case folded
MAGIC_CODE_PER_CLIENT = "magic-code-client"  # one-time codes typed per client network
WEBAUTHN_PER_CLIENT = "webauthn-client"  # passkey challenges created per client network
WALLET_PER_CLIENT = "wallet-client"    # EU Wallet requests opened per client network
UPSTREAM_PER_CLIENT = "upstream-client"  # browsers sent to a company's identity provider per client network
INTERACTIONS_PER_CLIENT = "interactions-client"
SIGNUP_PER_CLIENT = "signup-client"
EMAIL_CHANGE_PER_ACCOUNT = "email-change-account"  # "Change email" requests per account (by login)
SIGNUP_PER_ADDRESS = "signup-address"
# The host site's sign-up page (codeb.provisioning.signup): per client address, mailbox, mail domain
SITE_SIGNUP_PER_CLIENT = "site-signup-client"
SITE_SIGNUP_PER_ADDRESS = "site-signup-address"
SITE_SIGNUP_PER_DOMAIN = "site-signup-domain"
SITE_CHECKS_PER_CLIENT = "site-check-client"  # the live subdomain check's calls per client address
SITE_SIGNUPS = "site-signups"          # the host's daily cap: every sign-up the form accepted, one key

POSTS_PER_PARTICIPANT = "posts-participant"    # messages posted per participant (account or guest)
GUEST_JOINS_PER_CLIENT = "guest-joins-client"  # guest invitations redeemed per client network
INVITES_PER_ACCOUNT = "invites-account"        # guest invitations made per account
MEETING_SIGNALS_PER_PEER = "meeting-signals-peer"  # WebRTC signals sent per participant of a meeting
# The XMPP auth bridge (codeb.native.failures): failed sign-ins per account (by login) and per source network
XMPP_FAILURES_PER_ACCOUNT = "xmpp-failures-account"
XMPP_FAILURES_PER_SOURCE = "xmpp-failures-source"
SIP_FAILURES_PER_ACCOUNT = "sip-failures-account"  # codeb.native.sip_digest: wrong digests per account
SIP_FAILURES_PER_SOURCE = "sip-failures-source"    # ... and per phone network

# -- durability: which transient kinds are written without fsync -----------------------
#
# Every write is atomic (temp file, then replace): a killed process leaves the old or the
# new document. The fsync before the replace only matters in a power cut, and costs more
# than the rest of the write. These kinds lose nothing that matters there, because what
# a power cut takes from them is what a short wait or a retry gives back:
# - codes, interactions, upstream requests and arrivals: live a minute or ten; a lost one is a
#   sign-in the person starts again (a code's client just gets invalid_grant);
# - spent passkey challenges (the challenges themselves are stateless, codeb.accounts.passkeys):
#   one lives five minutes and its id's MAC names the browser it was made for; a marker lost in
#   a power cut lets an assertion made in that browser in those minutes count once more;
# - spent-code markers: the code they guard is gone already (taken by rename), so a lost
#   marker only forgoes revoking the grant on a replay in the power cut's very minute;
# - the rate-limit windows and audit repeat counts: a window counted from zero again
#   after a power cut lets a few more attempts through once;
# - shown secrets: the admin's page shows a new secret once; a lost one is a new secret;
# - meeting presence and signals: a heartbeat every few seconds, and a WebRTC negotiation
#   the browsers restart when it stalls; the per-minute post, join and signal windows as above;
# - channel viewers (codeb.rooms.alerts): a lost one costs one notification too many;
# - grants' notes (how the person signed in for a grant, written with its code): what reads
#   one fails closed without it, the office shell's token is refused (its browser session
#   cannot be proven) and the person signs in again; a relying party's tokens and refresh
#   chain never read it, and a revocation is a record of its own, durable;
# - private_key_jwt assertions' and DPoP proofs' `jti` markers: an assertion or proof lives a
#   minute; a marker lost in a power cut lets one captured in that very minute be used once more;
# - pushed authorization requests: live a minute; a lost one is an authorization the app starts again;
# - the XMPP bridge's failure windows (codeb.native.failures): as the rate-limit windows, a
#   forgotten window lets at most its limit of guesses at a 100-bit app password through once more.
# Sessions, the refresh chains, revocations, the back-channel logout queue (a logout an app
# must still hear), magic links (mailed: the person
# holds them), password failures (a lockout must survive) and superuser links stay durable.
NOT_DURABLE = frozenset({
    CODES, INTERACTIONS, WEBAUTHN_CHALLENGES, SPENT_CODES, AUDIT_REPEATS, SHOWN_SECRETS,
    MAGIC_PER_CLIENT, MAGIC_PER_ADDRESS, MAGIC_CODE_PER_CLIENT, WEBAUTHN_PER_CLIENT, INTERACTIONS_PER_CLIENT,
    SIGNUP_PER_CLIENT, SIGNUP_PER_ADDRESS, UPSTREAM_REQUESTS, UPSTREAM_ARRIVALS, UPSTREAM_PER_CLIENT,
    UPSTREAM_LOGOUTS, WALLET_PER_CLIENT, WALLET_REQUESTS, WALLET_ARRIVALS, WALLET_STATUS_LISTS,
    MEETING_PRESENCE, MEETING_SIGNALS, POSTS_PER_PARTICIPANT, GUEST_JOINS_PER_CLIENT,
    MEETING_SIGNALS_PER_PEER, CHANNEL_VIEWERS, GRANTS, SITE_SIGNUP_PER_CLIENT, SITE_SIGNUP_PER_ADDRESS,
    SITE_SIGNUP_PER_DOMAIN, SITE_CHECKS_PER_CLIENT, XMPP_FAILURES_PER_ACCOUNT, XMPP_FAILURES_PER_SOURCE,
    SIP_FAILURES_PER_ACCOUNT, SIP_FAILURES_PER_SOURCE, CLIENT_ASSERTIONS, PUSHED_REQUESTS, DPOP_PROOFS,
})
# Not SITE_SIGNUPS: the daily cap is the operator's promise of how many tenants a day at most.


def durable(kind: str) -> bool:
    """Whether records of a transient kind are fsynced before their replace."""
    return kind not in NOT_DURABLE
