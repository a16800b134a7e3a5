"""Masking secrets out of locations and messages, and expanding `${VAR}` credentials (signals.locations)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from signals.errors import SignalError
from signals.locations import expand_location, literal_secrets, mask_location, mask_text


@pytest.mark.parametrize(("location", "masked"), [
    ("http://user:Secret@127.0.0.1:9/cases.csv?token=Tok", "http://user:***@127.0.0.1:9/cases.csv?token=***"),
    ("https://host/x.csv", "https://host/x.csv"),
    ("https://host/x.csv?region=CA&day=1", "https://host/x.csv?region=CA&day=1"),
    ("https://ghp_abc123@host/x.csv", "https://***@host/x.csv"),
    ("https://user:@host/x", "https://user:@host/x"),
    ("HTTPS://h/x?API_KEY=a&apiKey=b&access_token=c&Password=d&secret=e&signature=f&sig=g&auth=h&key=i",
     "HTTPS://h/x?API_KEY=***&apiKey=***&access_token=***&Password=***&secret=***&signature=***&sig=***&auth=***&key=***"),
    ("https://s3/x?X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-Security-Token=c&X-Amz-Expires=60",
     "https://s3/x?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***&X-Amz-Expires=60"),
    ("https://h/x?client_secret=a;keyword=b&author=c&api%5Fkey=d", "https://h/x?client_secret=***;keyword=b&author=c&api%5Fkey=***"),
    ("https://h/x?token=&flag", "https://h/x?token=&flag"),
    ("https://h/x#access_token=abc&state=1", "https://h/x#access_token=***&state=1"),
    ("https://u:${PW}@h/x?token=${TOK}&key=a${TOK}", "https://u:${PW}@h/x?token=${TOK}&key=***"),
    ("../data/cases.csv", "../data/cases.csv"),
    ("/data/token=abc.csv", "/data/token=abc.csv"),
])
def test_mask_location(location: str, masked: str) -> None:
    assert mask_location(location) == masked


def test_mask_text_masks_every_url_in_a_message_and_the_given_secrets() -> None:
    text = ("cannot fetch http://u:pw1234@h:9/x?token=abc1234: ConnectError (http://h/y?sig=zz9999, see "
            "https://docs/z.) and abc1234 again")
    assert mask_text(text, ["abc1234"]) == ("cannot fetch http://u:***@h:9/x?token=***: ConnectError "
                                            "(http://h/y?sig=***, see https://docs/z.) and *** again")


def test_literal_secrets_names_what_a_location_writes_in_clear() -> None:
    assert literal_secrets("http://u:pw@h/x?token=t&key=${K}") == ["password", "token"]
    assert literal_secrets("http://t0k@h/x?api_key=a") == ["user name", "api_key"]
    assert literal_secrets("http://u:${PW}@h/x?token=${T}") == [] == literal_secrets("/data/x.csv")


def test_expand_location_escapes_values_in_user_info_and_query_only() -> None:
    env = {"PW": "p@ss:w/rd#1", "TOK": "t&k=1 2", "HOST": "example.org:8080", "DIR": "/srv/data"}
    assert expand_location("https://api:${PW}@${HOST}/x.csv?token=${TOK}&r=CA", env) == \
        "https://api:p%40ss%3Aw%2Frd%231@example.org:8080/x.csv?token=t%26k%3D1%202&r=CA"
    assert expand_location("${DIR}/cases.csv", env) == "/srv/data/cases.csv"
    assert expand_location("https://h/x?price=$5&a=$${PW}", env) == "https://h/x?price=$5&a=$p%40ss%3Aw%2Frd%231"


def test_expand_location_names_a_missing_variable() -> None:
    with pytest.raises(SignalError, match=r"^environment variable TOK is not set \(the location reads \$\{TOK\}\); "):
        expand_location("https://h/x?token=${TOK}", {})


SECRET = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=4, max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(password=SECRET, token=SECRET)
def test_no_secret_survives_masking_or_scrubbing(password: str, token: str) -> None:
    """Whatever the secrets are, once expanded into a URL neither its masked form nor a message holds them."""
    template = "https://user:@h.example/cases.csv?region=CA&access_token= cannot fetch : refused by () *"
    assume(all(secret not in template and not set(secret) <= {"*"} for secret in (password, token)))
    url = expand_location("https://user:${PW}@h.example/cases.csv?region=CA&access_token=${TOK}",
                          {"PW": password, "TOK": token})
    masked = mask_location(url)
    assert masked == "https://user:***@h.example/cases.csv?region=CA&access_token=***"
    message = mask_text(f"cannot fetch {url}: refused by {password!r} ({token})", [password, token])
    assert password not in message and token not in message
