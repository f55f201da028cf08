"""What an email address may be (codeb.accounts.profile): the one validator every entry point uses."""

import pytest

from codeb.accounts.profile import mailbox_of, normalize_email
from codeb.errors import BadInput

ENCODED_WORD = "=?utf-8?q?victim=40evil.example=3E=2C?=@example.com"


@pytest.mark.parametrize("address", [
    "alice@example.com", "Alice.Smith@Example.COM", "a.b+tag@example.com", "o'brien@example.ie",
    "x_y-z@sub.example.co.uk", "user=name@example.com", "a!#$%&*/?^`{|}~@example.com",
    "bob@xn--mller-kva.example",
])
def test_rfc_5321_dot_atom_addresses_are_accepted(address):
    assert normalize_email(address) == address.strip().lower()


@pytest.mark.parametrize("address", [
    ENCODED_WORD,                          # RFC 2047: the mailer would write another To:
    "=?utf-8?q?a=0D=0Abcc=3Ax?=@example.com",  # an encoded CR/LF
    "=?utf-8?b?dmljdGlt?=@example.com",
    '"quoted"@example.com', '"a b"@example.com',  # quoted strings: refused, see profile.py
    "a..b@example.com", ".a@example.com", "a.@example.com",
    "a@b@example.com", "a(comment)@example.com", "a,b@example.com", "a;b@example.com",
    "a<b@example.com", "a\\b@example.com", "a b@example.com", "a@example", "a@-x.example",
    "a@x-.example", "a@exa_mple.com", "a@example..com", "a@[192.0.2.1]",
    "a@" + "x" * 64 + ".example", "x" * 65 + "@example.com",
    "Name <a@example.com>", "a@example.com\r\nBcc: b@example.com", "",
])
def test_anything_else_is_refused_with_the_clear_message(address):
    """Finding 12: only RFC 5321 dot-atom local parts and LDH domains; an address whose parsed
    form (email.headerregistry, as the mailer parses it) differs from the input is refused."""
    with pytest.raises(BadInput) as refused:
        normalize_email(address)
    assert refused.value.message_id == "error.invalid_email"


@pytest.mark.parametrize("address", ["jörg@example.com", "jorg@müller.example", "用户@例子.广告", "ｊ@example.com"])
def test_internationalised_addresses_are_refused_with_their_own_message(address):
    """Finding 13: SMTPUTF8 is not supported (the IIS SMTP pickup service cannot deliver it):
    a non-ASCII address is refused with a message that says which characters work."""
    with pytest.raises(BadInput) as refused:
        normalize_email(address)
    assert refused.value.message_id == "error.email_not_ascii"
    assert "before the @" in str(refused.value)


def test_a_mailbox_is_the_address_without_its_tag_and_case():
    assert mailbox_of("Name+1@Example.com") == mailbox_of("name+2@example.com") == "name@example.com"
    assert mailbox_of("name@example.com") == "name@example.com"
    assert mailbox_of("name@example.com") != mailbox_of("name@example.org")
