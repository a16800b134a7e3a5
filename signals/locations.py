"""A source's location without its secrets, and `${VAR}` credentials read from the environment at fetch time.

A location is a file path or an http(s) URL. Wherever one is printed, logged or stored for display it
goes through `mask_location` (or `mask_text`, for a message that may hold a URL): the password of the
user info, a user name given alone (often a token) and the value of every secret-looking query or
fragment parameter (token, key, api_key, access_token, password, secret, signature, sig, auth, ...
in any case, also inside names like X-Amz-Signature) become `***`:

    http://user:Secret@127.0.0.1:9/cases.csv?token=Tok -> http://user:***@127.0.0.1:9/cases.csv?token=***

To keep a credential out of the location altogether, write `${NAME}` in its place; `expand_location`
puts the variable's value there only when the source is fetched (percent-encoded in the user info and
the query, as it is elsewhere). A value made only of such placeholders is not secret and is shown as it
is: `https://api:${CASES_PASSWORD}@host/cases.csv?token=${CASES_TOKEN}`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote, unquote_plus

from signals.errors import SignalError

__all__ = ["MASK", "expand_location", "is_url", "literal_secrets", "mask_location", "mask_text", "url_secrets"]

MASK = "***"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""`${NAME}`: an environment variable's value, put in at fetch time."""
SECRET_WORDS = frozenset({
    "token", "key", "apikey", "password", "passwd", "pwd", "pass", "passphrase", "secret", "signature", "sig",
    "auth", "authorization", "credential", "credentials", "session", "sessionid", "jwt", "bearer", "otp",
})
"""A query parameter whose name has one of these words (split at `_`, `-`, `.` and camelCase) is secret."""
SECRET_PARTS = ("token", "secret", "passw", "apikey", "signature", "credential")
"""... as is one whose name merely contains one of these (`accesstoken`, `xapikey`)."""
MIN_SCRUBBED = 4
"""`mask_text` replaces given secret values this long or longer (shorter ones would garble the text)."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`]+")
_TRAILING = ".,;:!?)]}"
_ONLY_PLACEHOLDERS = re.compile(r"(?:\$\{[A-Za-z_][A-Za-z0-9_]*\})+")


def is_url(location: str) -> bool:
    """Whether `location` has a scheme (`http://...`), as opposed to being a file path."""
    return bool(_SCHEME.match(location))


def _split(url: str) -> tuple[str, str | None, str, str, str | None, str | None]:
    """scheme://, user info (None without `@`), host[:port], path, query (no `?`), fragment (no `#`)."""
    scheme = _SCHEME.match(url).group()  # type: ignore[union-attr]
    rest = url[len(scheme):]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, rest = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    rest, hash_, fragment = rest.partition("#")
    path, mark, query = rest.partition("?")
    return scheme, userinfo if at else None, hostport, path, query if mark else None, fragment if hash_ else None


def _join(scheme: str, userinfo: str | None, hostport: str, path: str, query: str | None,
          fragment: str | None) -> str:
    return (scheme + (f"{userinfo}@" if userinfo is not None else "") + hostport + path
            + (f"?{query}" if query is not None else "") + (f"#{fragment}" if fragment is not None else ""))


def _is_secret_name(name: str) -> bool:
    name = unquote_plus(name)
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
    squashed = "".join(words)
    return any(w in SECRET_WORDS for w in words) or any(part in squashed for part in SECRET_PARTS)


def _shown(value: str) -> bool:
    """A value that may be shown: empty, or made only of `${NAME}` placeholders."""
    return not value or bool(_ONLY_PLACEHOLDERS.fullmatch(value))


def _secret_params(params: str) -> list[tuple[str, str]]:
    """(name, value) of each secret parameter in `a=1&token=x;b=2`, values as written."""
    pairs = (p.partition("=") for p in re.split(r"[&;]", params))
    return [(name, value) for name, eq, value in pairs if eq and _is_secret_name(name)]


def _mask_params(params: str) -> str:
    def one(part: str) -> str:
        name, eq, value = part.partition("=")
        return f"{name}={MASK}" if eq and _is_secret_name(name) and not _shown(value) else part

    return "".join(one(p) if p not in "&;" else p for p in re.split(r"([&;])", params))


def _mask_userinfo(userinfo: str) -> str:
    user, colon, password = userinfo.partition(":")
    if colon:
        return userinfo if _shown(password) else f"{user}:{MASK}"
    return userinfo if _shown(user) else MASK  # a user name alone is usually a token


def mask_location(location: str) -> str:
    """`location` as it may be shown: a URL's password, lone user name and secret parameters as `***`.

    A file path is returned as it is; so is a value made only of `${NAME}` placeholders.
    """
    if not is_url(location):
        return location
    scheme, userinfo, hostport, path, query, fragment = _split(location)
    return _join(scheme, None if userinfo is None else _mask_userinfo(userinfo), hostport, path,
                 None if query is None else _mask_params(query),
                 None if fragment is None else _mask_params(fragment))


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` (a message) with every URL in it masked, and every one of `secrets` (>= 4 characters) as `***`."""
    for secret in sorted({s for s in secrets if len(s) >= MIN_SCRUBBED}, key=len, reverse=True):
        text = text.replace(secret, MASK)

    def one(match: re.Match[str]) -> str:
        url = match.group()
        stripped = url.rstrip(_TRAILING)
        return mask_location(stripped) + url[len(stripped):]

    return _URL_IN_TEXT.sub(one, text)


def _secret_fields(location: str) -> list[tuple[str, str]]:
    """(what it is, value) of each secret written in `location`: "password" or "user name" for the user
    info, the parameter's name for a secret query or fragment parameter."""
    if not is_url(location):
        return []
    _, userinfo, _, _, query, fragment = _split(location)
    found = []
    if userinfo:
        user, colon, password = userinfo.partition(":")
        found.append(("password", password) if colon else ("user name", user))
    return found + [(unquote_plus(name), value) for params in (query, fragment) if params
                    for name, value in _secret_params(params)]


def url_secrets(location: str) -> list[str]:
    """The secret values written in `location` (password, lone user name, secret parameters), as written
    and percent-decoded: what `mask_text` must scrub from a message about it."""
    return [form for _, value in _secret_fields(location) if value
            for form in {value, unquote(value), unquote_plus(value)}]


def literal_secrets(location: str) -> list[str]:
    """What `location` writes in clear instead of as `${NAME}`: "password", "user name" or a parameter's name."""
    return [what for what, value in _secret_fields(location) if not _shown(value)]


def expand_location(location: str, environ: Mapping[str, str] | None = None) -> str:
    """`location` with each `${NAME}` replaced by that environment variable's value.

    In a URL's user info and query the value is percent-encoded (any character may be in a password
    or token); elsewhere (host, path, a file path) it is put in as it is. `$` not followed by `{NAME}`
    stays as it is.

    Args:
        location: A path or URL, possibly with placeholders.
        environ: Where the variables are read; the process environment when None.

    Raises:
        SignalError: a variable is not set (the message names it, never another variable's value).
    """
    env = os.environ if environ is None else environ
    missing = [name for name in PLACEHOLDER.findall(location) if name not in env]
    if missing:
        raise SignalError(f"environment variable {missing[0]} is not set (the location reads ${{{missing[0]}}}); "
                          "set it where the service runs, or in its .env")
    if not PLACEHOLDER.search(location):
        return location

    def put(text: str | None, escaped: bool) -> str | None:
        if text is None:
            return None
        return PLACEHOLDER.sub(lambda m: quote(env[m[1]], safe="") if escaped else env[m[1]], text)

    if not is_url(location):
        return put(location, False)  # type: ignore[return-value]
    scheme, userinfo, hostport, path, query, fragment = _split(location)
    return _join(scheme, put(userinfo, True), put(hostport, False), put(path, False),  # type: ignore[arg-type]
                 put(query, True), put(fragment, True))
